/** A FIFO async mutex: `run` executes its functions one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const result = this.tail.then(() => fn());
    // The chain continues whether fn succeeded or failed.
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}
