/**
 * The cluster library with an IPIP pool on this kernel, which has no ipip
 * module: the cluster still comes up, and every daemon says clearly that
 * tunl0 cannot be made; the lab prints it as one warning.
 */
import assert from 'node:assert/strict';
import { Cluster } from '../../../src/lab/cluster.js';
import { Lab } from '../../../src/lab/lab.js';
import { encapNotes, type LabState } from '../../../src/lab/persistent.js';

describe('lab cluster: IPIP pool on a kernel without ipip', function () {
  this.timeout(180_000);
  let c: Cluster;

  before(async () => {
    const lab = await Lab.create();
    c = await Cluster.build(lab, { hosts: 2, workloadsPerHost: 1, topology: 'mesh', encap: 'ipip', datastore: 'embedded' });
  });

  after(async () => {
    await c?.destroy();
  });

  it('comes up with its sessions Established, and each daemon reports IPIP unsupported with the kernel\'s reason; the lab prints one warning', async () => {
    const sessions = [];
    for (const h of c.nodes()) {
      const st = (await c.status(h)) as { bgp: { peers: { state: string }[] }; dataplane: { encap: Record<string, { state: string; device: string; reason?: string }> } };
      assert.ok(st.bgp.peers.every((p) => p.state === 'Established'));
      const ipip = st.dataplane.encap.ipip!;
      assert.equal(ipip.state.toLowerCase(), 'unsupported');
      assert.equal(ipip.device, 'tunl0');
      assert.match(ipip.reason ?? '', /tunl0/);
      sessions.push({ host: h.name, peers: [], dataplane: { inSync: true, problems: [], encap: st.dataplane.encap } });
    }
    const state = { encap: 'ipip', hosts: c.nodes() } as unknown as LabState;
    const notes = encapNotes(state, sessions);
    assert.equal(notes.length, 1);
    assert.match(notes[0]!, /^WARNING: the pool asks for IPIP \(--encap ipip\) but no host can provide it: .*tunl0/);
  });
});
