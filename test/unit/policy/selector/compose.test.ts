import assert from 'node:assert/strict';
import {
  globalNetworkPolicyEndpointSelector,
  networkPolicyEndpointSelector,
  parseSelector,
  prefixKeys,
  render,
  ruleEndpointSelectors,
  ruleNamespaceSelector,
} from '../../../../src/policy/selector/index.js';

const canon = (text: string): string => parseSelector(text).canonical();

describe('policy/selector: Calico composition of policy selectors', () => {
  describe('prefixKeys / ruleNamespaceSelector', () => {
    it('prefixes every key and leaves all()/global() alone', () => {
      const tree = parseSelector(`a == 'x' && (has(b) || c in {'1'}) && !d contains 'y' || all() || global()`).ast;
      assert.equal(
        render(prefixKeys(tree, 'pcns.')),
        '(pcns.a == "x" && (has(pcns.b) || pcns.c in {"1"}) && !pcns.d contains "y") || all() || global()',
      );
    });

    it('maps all() to namespaced endpoints and global() to the others', () => {
      assert.equal(render(ruleNamespaceSelector(parseSelector('all()').ast)), 'has(projectcalico.org/namespace)');
      assert.equal(render(ruleNamespaceSelector(parseSelector('global()').ast)), '!has(projectcalico.org/namespace)');
      assert.equal(
        render(ruleNamespaceSelector(parseSelector(`env == 'prod' || global()`).ast)),
        'pcns.env == "prod" || !has(projectcalico.org/namespace)',
      );
    });

    it('does not rewrite text inside quoted values', () => {
      assert.equal(render(ruleNamespaceSelector(parseSelector(`x == 'all()'`).ast)), 'pcns.x == "all()"');
    });
  });

  describe('ruleEndpointSelectors (rules.go GetEntityRuleSelector)', () => {
    const cases: ReadonlyArray<{
      name: string;
      ns: string | undefined;
      entity: Parameters<typeof ruleEndpointSelectors>[0];
      selector: string | undefined;
      notSelector?: string;
    }> = [
      { name: 'namespaced, selector', ns: 'shop', entity: { selector: `app == 'db'` }, selector: `projectcalico.org/namespace == 'shop' && app == 'db'` },
      { name: 'namespaced, no selectors (nets only)', ns: 'shop', entity: {}, selector: undefined },
      { name: 'namespaced, empty selector string', ns: 'shop', entity: { selector: '' }, selector: undefined },
      {
        name: 'namespaced, notSelector only',
        ns: 'shop',
        entity: { notSelector: `app == 'db'` },
        selector: `projectcalico.org/namespace == 'shop'`,
        notSelector: `app == 'db'`,
      },
      {
        name: 'namespaceSelector replaces own namespace',
        ns: 'shop',
        entity: { selector: `app == 'db'`, namespaceSelector: `env == 'prod'` },
        selector: `pcns.env == 'prod' && app == 'db'`,
      },
      { name: 'namespaceSelector alone', ns: 'shop', entity: { namespaceSelector: `env == 'prod'` }, selector: `pcns.env == 'prod'` },
      { name: 'namespaceSelector all()', ns: undefined, entity: { namespaceSelector: 'all()' }, selector: 'has(projectcalico.org/namespace)' },
      {
        name: 'namespaceSelector global() with selector',
        ns: undefined,
        entity: { namespaceSelector: 'global()', selector: `role == 'gw'` },
        selector: `!has(projectcalico.org/namespace) && role == 'gw'`,
      },
      { name: 'global policy, selector', ns: undefined, entity: { selector: `app == 'db'` }, selector: `app == 'db'` },
      { name: 'global policy, nothing', ns: undefined, entity: {}, selector: undefined },
      {
        name: 'service account names and selector',
        ns: 'shop',
        entity: { serviceAccounts: { names: ['api', 'web'], selector: `role == 'front'` } },
        selector: `projectcalico.org/namespace == 'shop' && pcsa.role == 'front' && projectcalico.org/serviceaccount in {'api', 'web'}`,
      },
      {
        name: 'service accounts with nothing in them',
        ns: undefined,
        entity: { serviceAccounts: { names: [] } },
        selector: undefined,
      },
    ];

    for (const c of cases) {
      it(c.name, () => {
        const out = ruleEndpointSelectors(c.entity, c.ns);
        assert.equal(out.selector?.canonical(), c.selector === undefined ? undefined : canon(c.selector));
        assert.equal(out.notSelector?.canonical(), c.notSelector === undefined ? undefined : canon(c.notSelector));
      });
    }
  });

  describe('policy selectors', () => {
    it('scopes a NetworkPolicy to its namespace', () => {
      assert.equal(
        networkPolicyEndpointSelector('shop', { selector: `app == 'db'` }).canonical(),
        canon(`app == 'db' && projectcalico.org/namespace == 'shop'`),
      );
      assert.equal(networkPolicyEndpointSelector('shop', {}).canonical(), canon(`projectcalico.org/namespace == 'shop'`));
      assert.equal(
        networkPolicyEndpointSelector('shop', { selector: 'all()', serviceAccountSelector: `role == 'x'` }).canonical(),
        canon(`all() && projectcalico.org/namespace == 'shop' && pcsa.role == 'x'`),
      );
    });

    it('composes a GlobalNetworkPolicy as Calico does, all() rewrite included', () => {
      assert.equal(globalNetworkPolicyEndpointSelector({}).canonical(), 'all()');
      assert.equal(globalNetworkPolicyEndpointSelector({ selector: `has(a)` }).canonical(), 'has(a)');
      assert.equal(
        globalNetworkPolicyEndpointSelector({ selector: 'all()', namespaceSelector: `env == 'prod'` }).canonical(),
        canon(`has(projectcalico.org/namespace) && pcns.env == 'prod'`),
      );
      assert.equal(
        globalNetworkPolicyEndpointSelector({ namespaceSelector: 'all()' }).canonical(),
        canon('has(projectcalico.org/namespace)'),
      );
      // Calico leaves global() alone at policy level: it matches everything.
      assert.equal(globalNetworkPolicyEndpointSelector({ namespaceSelector: 'global()' }).canonical(), 'global()');
      assert.equal(
        globalNetworkPolicyEndpointSelector({ selector: 'all()', serviceAccountSelector: 'all()' }).canonical(),
        canon('has(projectcalico.org/serviceaccount)'),
      );
    });

    it('propagates syntax errors from any field', () => {
      assert.throws(() => globalNetworkPolicyEndpointSelector({ namespaceSelector: 'env ==' }), /at column 6/);
      assert.throws(() => ruleEndpointSelectors({ notSelector: 'a b' }, 'ns'), /at column 2/);
    });
  });

  describe('end to end: rule selectors against endpoints with a namespace profile', () => {
    // A workload in namespace "shop" (own labels carry its namespace, as
    // Calico's do), its namespace profile (labels under pcns.), and a host
    // endpoint (not namespaced).
    const wep = { app: 'db', 'projectcalico.org/namespace': 'shop' };
    const shopProfile = { 'pcns.env': 'prod', 'pcns.projectcalico.org/name': 'shop' };
    const wepOther = { app: 'db', 'projectcalico.org/namespace': 'dev' };
    const devProfile = { 'pcns.env': 'dev', 'pcns.projectcalico.org/name': 'dev' };
    const hep = { role: 'gw', app: 'db' };

    const match = (sel: ReturnType<typeof ruleEndpointSelectors>['selector'], own: Record<string, string>, parents: Record<string, string>[] = []): boolean =>
      sel!.evaluateWithParents(own, parents);

    it('own-namespace rule selects only that namespace', () => {
      const { selector } = ruleEndpointSelectors({ selector: `app == 'db'` }, 'shop');
      assert.equal(match(selector, wep, [shopProfile]), true);
      assert.equal(match(selector, wepOther, [devProfile]), false);
      assert.equal(match(selector, hep), false);
    });

    it('namespaceSelector selects by inherited namespace labels', () => {
      const { selector } = ruleEndpointSelectors({ selector: `app == 'db'`, namespaceSelector: `env == 'prod'` }, 'dev');
      assert.equal(match(selector, wep, [shopProfile]), true);
      assert.equal(match(selector, wepOther, [devProfile]), false);
      assert.equal(match(selector, hep), false);
    });

    it('namespaceSelector by name uses projectcalico.org/name', () => {
      const { selector } = ruleEndpointSelectors({ namespaceSelector: `projectcalico.org/name == 'dev'` }, undefined);
      assert.equal(match(selector, wepOther, [devProfile]), true);
      assert.equal(match(selector, wep, [shopProfile]), false);
    });

    it('all() selects every namespaced endpoint, global() every other one', () => {
      const all = ruleEndpointSelectors({ namespaceSelector: 'all()', selector: `app == 'db'` }, undefined).selector;
      const global = ruleEndpointSelectors({ namespaceSelector: 'global()', selector: `app == 'db'` }, undefined).selector;
      assert.deepEqual([match(all, wep, [shopProfile]), match(all, wepOther, [devProfile]), match(all, hep)], [true, true, false]);
      assert.deepEqual([match(global, wep, [shopProfile]), match(global, wepOther, [devProfile]), match(global, hep)], [false, false, true]);
    });
  });
});
