import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { TOPOLOGY } from '../../shared/events/topology';
import { INFRA_DIR, parseBicep, REPO_ROOT, readBicep } from './bicep';
import { loadFunctionRegistrations } from './functionRegistrations';
import {
  describeScope,
  isResourceRef,
  PRINCIPAL_APP,
  type RoleAssignmentFact,
  roleAssignments,
  roleNames,
  type ServiceBusRoleIds,
  type ServiceBusTrigger,
  serviceBusRoleProblems,
} from './roleAssignments';

/**
 * Who gets which role on what, read from infra/app/rbac.bicep with its loops over the topology
 * unrolled, against what functions/ registers: every Service Bus trigger needs Data Receiver and
 * Data Owner on the subscription it reads; the app gets nothing wider than it uses.
 */
const RBAC = path.join(INFRA_DIR, 'app/rbac.bicep');
let facts: RoleAssignmentFact[];
let names: Map<string, string>;
let roles: ServiceBusRoleIds;
let triggers: ServiceBusTrigger[];

const idOf = (name: string) => [...names].find(([, n]) => n === name)?.[0] ?? `(no ${name} in roles)`;

beforeAll(async () => {
  const rbac = await readBicep(RBAC);
  facts = roleAssignments(rbac);
  names = roleNames(rbac);
  roles = {
    sender: idOf('serviceBusDataSender'),
    receiver: idOf('serviceBusDataReceiver'),
    owner: idOf('serviceBusDataOwner'),
  };
  const functions = await loadFunctionRegistrations(path.join(REPO_ROOT, 'functions'));
  triggers = functions
    .filter((f) => f.trigger.type === 'serviceBusTrigger')
    .map((f) => ({ functionName: f.name, subscriptionName: String(f.trigger.subscriptionName ?? '') }));
});

describe('Service Bus roles ⇄ the triggers functions/ registers', () => {
  it('uses the built-in role ids Microsoft documents', () => {
    // Azure built-in roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
    expect(roles).toEqual({
      sender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39',
      receiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0',
      owner: '090c5cfd-751d-490a-894a-3ce6f1109419',
    });
  });

  it('has a trigger on every topology subscription, so the roles derived from the topology are the ones the triggers need', () => {
    expect(triggers.length).toBeGreaterThan(0);
    expect(triggers.map((t) => t.subscriptionName).sort()).toEqual(TOPOLOGY.subscriptions.map((s) => s.name).sort());
  });

  it('gives the app identity Data Receiver + Data Owner on each subscription a trigger reads, Data Sender on the topic, nothing else on the bus', () => {
    expect(serviceBusRoleProblems(facts, triggers, roles)).toEqual([]);
  });

  it('grants them per subscription from the topology file, not a copied list', () => {
    const source = readFileSync(RBAC, 'utf8');
    expect(source).toContain("loadJsonContent('../../shared/events/topology.json')");
    const perSubscription = facts.filter(
      (f) => f.principal === PRINCIPAL_APP && isResourceRef(f.scope) && f.scope.type.endsWith('/topics/subscriptions'),
    );
    expect(perSubscription).toHaveLength(TOPOLOGY.subscriptions.length * 2);
  });

  it('catches the topic-scoped grant the desk review found (the check is not vacuous)', async () => {
    // The previous rbac.bicep: Sender and Receiver at topic scope, no Owner anywhere.
    const broken = await parseBicep(
      `var roles = {
  serviceBusDataSender: '${roles.sender}'
  serviceBusDataReceiver: '${roles.receiver}'
}
param topicName string
param serviceBusNamespaceName string
param managedIdentityPrincipalId string
resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}
resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' existing = {
  parent: serviceBus
  name: topicName
}
resource appServiceBusRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in [roles.serviceBusDataSender, roles.serviceBusDataReceiver]: {
    name: guid(topic.id, managedIdentityPrincipalId, roleId)
    scope: topic
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]
`,
      RBAC,
    );
    const problems = serviceBusRoleProblems(roleAssignments(broken), triggers, roles);
    for (const trigger of triggers) {
      expect(problems).toContain(
        `${trigger.functionName} reads subscription '${trigger.subscriptionName}': the app identity has no Data Owner scoped to it`,
      );
      expect(problems).toContain(
        `${trigger.functionName} reads subscription '${trigger.subscriptionName}': the app identity has no Data Receiver scoped to it`,
      );
    }
    expect(problems.some((p) => p.includes('Data Receiver at topic scope'))).toBe(true);
  });

  it('catches a grant on a subscription no trigger reads, and a namespace-wide grant', () => {
    const extra: RoleAssignmentFact[] = [
      ...facts,
      {
        declaration: 'stray',
        principal: PRINCIPAL_APP,
        roleId: roles.receiver,
        conditional: false,
        scope: { resource: 'x', type: 'Microsoft.ServiceBus/namespaces/topics/subscriptions', name: 'audit' },
      },
      {
        declaration: 'wide',
        principal: PRINCIPAL_APP,
        roleId: roles.owner,
        conditional: false,
        scope: { resource: 'ns', type: 'Microsoft.ServiceBus/namespaces', name: { symbolic: 'name' } },
      },
    ];
    expect(serviceBusRoleProblems(extra, triggers, roles)).toEqual([
      "stray: Data Receiver on Microsoft.ServiceBus/namespaces/topics/subscriptions 'audit', which no trigger reads",
      'wide: Data Owner on Microsoft.ServiceBus/namespaces \'{"symbolic":"name"}\' (wider than one entity)',
    ]);
  });
});

describe('the app identity: least privilege everywhere else', () => {
  const appRoles = () =>
    facts
      .filter((f) => f.principal === PRINCIPAL_APP)
      .map(
        (f) => `${names.get(f.roleId) ?? f.roleId} @ ${isResourceRef(f.scope) ? f.scope.type : describeScope(f.scope)}`,
      );

  it('holds exactly the data-plane roles the host and the code use, each on one resource', () => {
    expect(appRoles().sort()).toEqual(
      [
        'keyVaultSecretsUser @ Microsoft.KeyVault/vaults',
        'monitoringMetricsPublisher @ Microsoft.Insights/components',
        'storageBlobDataOwner @ Microsoft.Storage/storageAccounts',
        'storageQueueDataContributor @ Microsoft.Storage/storageAccounts',
        'storageTableDataContributor @ Microsoft.Storage/storageAccounts',
        'serviceBusDataSender @ Microsoft.ServiceBus/namespaces/topics',
        ...TOPOLOGY.subscriptions.flatMap(() => [
          'serviceBusDataReceiver @ Microsoft.ServiceBus/namespaces/topics/subscriptions',
          'serviceBusDataOwner @ Microsoft.ServiceBus/namespaces/topics/subscriptions',
        ]),
      ].sort(),
    );
  });

  it('gives nobody a control-plane role (Owner, Contributor, User Access Administrator, RBAC Administrator)', () => {
    const controlPlane = [
      '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
      'b24988ac-6180-42a0-ab88-20f7382dd24c',
      '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
      'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
    ];
    expect(facts.filter((f) => controlPlane.includes(f.roleId))).toEqual([]);
    expect(facts.every((f) => isResourceRef(f.scope))).toBe(true);
  });
});
