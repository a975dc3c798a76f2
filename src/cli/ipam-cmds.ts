/** `tabby ipam show` and `tabby ipam check`: IPAM state of the datastore the node config names. */
import { loadNodeConfig, resolveConfigPath } from '../config/node-config.js';
import { openNodeStore } from '../datastore/open.js';
import { formatCheck, formatShow, Ipam, storePoolSource } from '../ipam/index.js';

async function withIpam<T>(configFlag: string | undefined, fn: (ipam: Ipam) => Promise<T>): Promise<T> {
  const store = await openNodeStore(loadNodeConfig(resolveConfigPath(configFlag)));
  try {
    return await fn(new Ipam({ store, pools: storePoolSource(store) }));
  } finally {
    await store.close();
  }
}

export async function ipamShow(opts: { ip?: string; config?: string }): Promise<void> {
  await withIpam(opts.config, async (ipam) => {
    process.stdout.write(formatShow(await ipam.show(opts.ip ? { ip: opts.ip } : {})) + '\n');
  });
}

export async function ipamCheck(opts: { repair?: boolean; config?: string }): Promise<void> {
  await withIpam(opts.config, async (ipam) => {
    let report = await ipam.check();
    if (opts.repair && report.problems.length) {
      await ipam.repair(report.problems);
      report = await ipam.check();
    }
    const out = formatCheck(report, { repairCommand: 'tabby ipam check --repair' });
    process.stdout.write(out.text + '\n');
    process.exitCode = out.exitCode;
  });
}
