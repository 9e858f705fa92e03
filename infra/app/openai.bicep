// Azure OpenAI for the azure-openai training provider: a new account (AVM) in a region that
// offers fine-tuning, or an existing one, and least-privilege roles for the app's identity:
// data plane (files, fine-tuning jobs) always; control plane (model deployments) only when
// deployments are enabled. Deployed at the scope of the account's resource group.

// Built-in role definition ids (the same in every tenant).
var roles = {
  // Files and fine-tuning jobs on the data plane ("Fine-tuning access requires Cognitive Services OpenAI Contributor").
  cognitiveServicesOpenAIContributor: 'a001fd3d-188f-4b5d-821b-7da978bf7442'
  // Creating deployments of fine-tuned models (Microsoft.CognitiveServices/accounts/deployments/write).
  cognitiveServicesContributor: '25fbc0a9-bd7c-42a3-aa1a-3b75d497ee68'
}

@description('Account name: created when existingAccount is false, referenced otherwise.')
param name string

@description('Reference an existing account instead of creating one.')
param existingAccount bool = false

@description('Region of a new account: one with Standard or Global fine-tuning (shared/catalog/azureOpenAI.ts).')
param location string

param tags object = {}

@description('Principal (object) id of the function app\'s user-assigned identity.')
param managedIdentityPrincipalId string

@description('Grant the control-plane role that creating model deployments needs.')
param enableDeployments bool = false

module account 'br/public:avm/res/cognitive-services/account:0.13.0' = if (!existingAccount) {
  name: 'openaiAccount'
  params: {
    name: name
    kind: 'OpenAI'
    sku: 'S0'
    location: location
    tags: tags
    customSubDomainName: name
    // Entra ID only: the app uses its managed identity, no keys exist to leak.
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource existing 'Microsoft.CognitiveServices/accounts@2024-10-01' existing = {
  name: name
}

resource dataPlane 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(existing.id, managedIdentityPrincipalId, roles.cognitiveServicesOpenAIContributor)
  scope: existing
  properties: {
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesOpenAIContributor)
  }
  dependsOn: [account]
}

resource controlPlane 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (enableDeployments) {
  name: guid(existing.id, managedIdentityPrincipalId, roles.cognitiveServicesContributor)
  scope: existing
  properties: {
    principalId: managedIdentityPrincipalId
    principalType: 'ServicePrincipal'
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.cognitiveServicesContributor)
  }
  dependsOn: [account]
}

output endpoint string = 'https://${name}.openai.azure.com'
output resourceId string = existing.id
output name string = name
