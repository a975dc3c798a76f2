/**
 * CNI entry point. Until the CNI plugin lands (datastore/IPAM/CNI issue) it
 * answers VERSION and returns the spec's error JSON for everything else, so a
 * runtime sees a well-formed error rather than garbage.
 */
export const CNI_SUPPORTED_VERSIONS = ['0.3.1', '0.4.0', '1.0.0'];

export async function runCniStub(): Promise<number> {
  const cmd = process.env.CNI_COMMAND;
  if (cmd === 'VERSION') {
    process.stdout.write(JSON.stringify({ cniVersion: '1.0.0', supportedVersions: CNI_SUPPORTED_VERSIONS }) + '\n');
    return 0;
  }
  // CNI spec, "Error": code 4 = invalid necessary environment variables is not
  // right here; use a plugin-specific code (>= 100) and say what is missing.
  const err = { cniVersion: '1.0.0', code: 100, msg: `not implemented yet: CNI ${cmd}`, details: 'the tabby CNI plugin is not built yet' };
  process.stdout.write(JSON.stringify(err) + '\n');
  process.stderr.write(`tabby: not implemented yet: CNI ${cmd}\n`);
  return 2;
}
