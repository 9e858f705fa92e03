// Least-privilege role assignments, each scoped to the one resource it is for.
// Built-in role definition ids (stable GUIDs, the same in every tenant):
var roles = {
  // Host storage with identity: blob leases/singleton locks, the deployment package, and the
  // blob trigger's receipts. Functions docs require Owner (not Contributor) for AzureWebJobsStorage.
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  // Durable Functions (Azure Storage provider) work-item and control queues; blob trigger poison queue.
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  // Durable Functions history/instances tables; tunedrop's run, model, intake and webhook tables.
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  // A human deployer uploading drops and reading reports; no ACL rights.
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  // Publishing tunedrop events (and scheduled retries) to the topic.
  serviceBusDataSender: '69a216fc-b8fb-44d8-bc22-1f3c2cd27a39'
  // Service Bus triggers: receive from the subscription each one reads (and, for the deploying
  // user, dead-letter handling).
  serviceBusDataReceiver: '4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0'
  // Service Bus triggers: the Functions docs list Receiver + Owner for a trigger, scoped to the
  // topic subscription (topic scope alone errors); on Flex the scale controller reads each
  // subscription's runtime properties (message counts) to scale every trigger on its own.
  serviceBusDataOwner: '090c5cfd-751d-490a-894a-3ce6f1109419'
  // Resolving Key Vault references (Databricks token, webhook secrets): read secret values only.
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  // The deployer setting/rotating secrets; never given to the app.
  keyVaultSecretsOfficer: 'b86a8fe4-44ce-4948-aee5-eccb2c155cd7'
  // Entra ID-authenticated telemetry ingestion into Application Insights.
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

var topology = loadJsonContent('../../shared/events/topology.json')

param storageAccountName string
param serviceBusNamespaceName string
param topicName string
param keyVaultName string
param appInsightsName string
@description('Principal (object) id of the function app\'s user-assigned identity.')
param managedIdentityPrincipalId string
@description('Principal id of the deploying user (azd sets AZURE_PRINCIPAL_ID); empty for none.')
param userPrincipalId string = ''
@allowed([
  'User'
  'ServicePrincipal'
])
param userPrincipalType string = 'User'

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: serviceBusNamespaceName
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' existing = {
  parent: serviceBus
  name: topicName
}

// Every topic subscription in the topology is read by exactly one Service Bus trigger
// (test/infra/rbac.test.ts checks it against what functions/ registers).
resource triggerSubscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' existing = [
  for subscription in topology.subscriptions: {
    parent: topic
    name: subscription.name
  }
]

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var storageRolesForApp = [roles.storageBlobDataOwner, roles.storageQueueDataContributor, roles.storageTableDataContributor]

resource appStorageRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in storageRolesForApp: {
    name: guid(storage.id, managedIdentityPrincipalId, roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Publishing: the topic only, not the namespace. The app receives nothing at topic scope.
resource appTopicSenderRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, managedIdentityPrincipalId, roles.serviceBusDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataSender)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Triggers: Data Receiver and Data Owner on each subscription a trigger reads, nothing wider.
resource appTriggerReceiverRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (subscription, index) in topology.subscriptions: {
    name: guid(triggerSubscriptions[index].id, managedIdentityPrincipalId, roles.serviceBusDataReceiver)
    scope: triggerSubscriptions[index]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataReceiver)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appTriggerOwnerRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for (subscription, index) in topology.subscriptions: {
    name: guid(triggerSubscriptions[index].id, managedIdentityPrincipalId, roles.serviceBusDataOwner)
    scope: triggerSubscriptions[index]
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.serviceBusDataOwner)
      principalId: managedIdentityPrincipalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appKeyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, managedIdentityPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource appMonitoringRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, managedIdentityPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource userStorageRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(storage.id, userPrincipalId, roles.storageBlobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

resource userKeyVaultRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(vault.id, userPrincipalId, roles.keyVaultSecretsOfficer)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsOfficer)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}

// The hooks read/delete subscription rules and dead letters as the deploying user.
resource userServiceBusRoles 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for roleId in (empty(userPrincipalId) ? [] : [roles.serviceBusDataSender, roles.serviceBusDataReceiver]): {
    name: guid(topic.id, userPrincipalId, roleId)
    scope: topic
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleId)
      principalId: userPrincipalId
      principalType: userPrincipalType
    }
  }
]
