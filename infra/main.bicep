targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment, used to generate a short unique hash for every resource name.')
param environmentName string

@minLength(1)
@description('Primary location for all resources: the regions Databricks Foundation Model Fine-tuning supports (shared/catalog regions).')
@allowed([
  'centralus'
  'eastus'
  'eastus2'
  'northcentralus'
  'westus'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Id of the deploying user, given data-plane access for uploads, secrets and dead-letter handling. Empty for none (CI).')
param principalId string = ''

@description('Kind of principalId: User for a person, ServicePrincipal for a CI identity.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Databricks workspace URL, e.g. https://adb-1234567890123456.7.azuredatabricks.net')
param databricksHost string

@description('Azure region of the Databricks workspace; empty means the same as location.')
@allowed([
  ''
  'centralus'
  'eastus'
  'eastus2'
  'northcentralus'
  'westus'
])
param databricksRegion string = ''

@secure()
@description('Databricks personal access token, stored in Key Vault. Empty: the app uses an Entra ID token from its managed identity.')
param databricksToken string = ''

@description('Unity Catalog volume the datasets container is an external volume of (zero-copy staging), e.g. /Volumes/ml/tunedrop/datasets.')
param volumePath string = ''

@description('Volume validated files are copied to through the Files API, used when volumePath is empty.')
param stagingVolume string = ''

@description('Training provider(s) the app can use: teams choose per team configuration (default databricks).')
@allowed([
  'databricks'
  'azure-openai'
  'both'
])
param trainingProvider string = 'databricks'

@description('Region of the Azure OpenAI account: one with Standard or Global fine-tuning (shared/catalog/azureOpenAI.ts).')
@allowed([
  'australiaeast'
  'brazilsouth'
  'canadacentral'
  'canadaeast'
  'eastus'
  'eastus2'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'norwayeast'
  'polandcentral'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'switzerlandnorth'
  'switzerlandwest'
  'uksouth'
  'westeurope'
  'westus'
  'westus3'
])
param openAiLocation string = 'swedencentral'

@description('An existing Azure OpenAI account to use instead of creating one; empty to create one.')
param openAiAccountName string = ''

@description('Resource group of that existing account; empty means the app\'s resource group.')
param openAiResourceGroup string = ''

@description('Let the app deploy fine-tuned models (grants the control-plane role).')
param openAiDeployments bool = false

@description('Azure OpenAI training: standard (regional, data-resident) or globalstandard (Global training).')
@allowed([
  'standard'
  'globalstandard'
])
param openAiTrainingType string = 'standard'

param experimentRoot string = '/Shared/tunedrop'
param pollInitialSeconds int = 30
param pollMaxSeconds int = 600
param runDeadlineHours int = 168
@description('Sharded validation: drops with at least this many bytes of JSONL data fan out into shard activities (docs/validation.md).')
@minValue(1)
param shardedValidationMinBytes int = 1073741824
@description('Sharded validation: nominal bytes per shard (at least 65536).')
@minValue(65536)
param shardBytes int = 268435456
@description('Sharded validation: shard activities one validation runs at once.')
@minValue(1)
@maxValue(1000)
param shardParallelism int = 16
param modelAlias string = 'candidate'

@minLength(3)
@maxLength(45)
@description('Durable Functions task hub name (TUNEDROP_TASK_HUB; host.json reads it as %TUNEDROP_TASK_HUB%).')
param taskHubName string = 'tunedrop'

@description('Durable Functions backend. azureStorage: the host storage account (default). durableTaskScheduler: a managed scheduler (also switch host.json, see docs/host-json.md). MSSQL and Netherite are documented, not provisioned.')
@allowed([
  'azureStorage'
  'durableTaskScheduler'
])
param durableStorageProvider string = 'azureStorage'

@description('Base URL used in links in notifications; empty: the function app URL.')
param publicBaseUrl string = ''

@description('ADLS Gen2 (hierarchical namespace) on the storage account: needed to register the datasets container as a Unity Catalog external location (zero-copy staging). Fixed at creation.')
param enableHierarchicalNamespace bool = false

@description('Teams kept apart (infra/app/teamAccess.bicep): API app registration client id, App ID URI, Easy Auth, and per-team drop uploaders [{team, principalId, principalType}].')
param apiAuth object = {
  clientId: ''
  appIdUri: ''
  enableEasyAuth: false
  platformAdminRole: 'tunedrop.platform-admin'
  teamUploaders: []
}

@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

var abbrs = loadJsonContent('./abbreviations.json')
var resources = loadJsonContent('../shared/config/resources.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(resourceToken, 7)}'
var databricksTokenSecretName = 'databricks-token'
// The blob-triggered function the Event Grid subscription delivers to (functions/intake.ts).
var intakeFunctionName = 'intake'
// A drop's commit point (MANIFEST_NAME in shared/pipeline/submit.ts): only its creation starts intake.
var manifestName = 'run.json'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module apiIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'apiUserAssignedIdentity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentStorageContainerName
    enableHierarchicalNamespace: enableHierarchicalNamespace
  }
}

module serviceBus 'app/servicebus.bicep' = {
  name: 'serviceBus'
  scope: rg
  params: {
    name: '${abbrs.serviceBusNamespaces}${resourceToken}'
    location: location
    tags: tags
  }
}

module keyVault 'br/public:avm/res/key-vault/vault:0.11.0' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    enableRbacAuthorization: true
    enablePurgeProtection: false
    softDeleteRetentionInDays: 7
    publicNetworkAccess: 'Enabled'
    secrets: empty(databricksToken)
      ? []
      : [
          {
            name: databricksTokenSecretName
            value: databricksToken
          }
        ]
  }
}

module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.11.1' = {
  name: '${uniqueString(deployment().name, location)}-loganalytics'
  scope: rg
  params: {
    name: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module monitoring 'br/public:avm/res/insights/component:0.6.0' = {
  name: '${uniqueString(deployment().name, location)}-appinsights'
  scope: rg
  params: {
    name: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
  }
}

module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appserviceplan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module durableTaskScheduler 'app/durable-task-scheduler.bicep' = if (durableStorageProvider == 'durableTaskScheduler') {
  name: 'durableTaskScheduler'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    managedIdentityPrincipalId: apiIdentity.outputs.principalId
  }
}

var useAzureOpenAI = trainingProvider != 'databricks'

module openai 'app/openai.bicep' = if (useAzureOpenAI) {
  name: 'openai'
  scope: empty(openAiResourceGroup) ? rg : resourceGroup(openAiResourceGroup)
  params: {
    name: empty(openAiAccountName) ? 'oai-${resourceToken}' : openAiAccountName
    existingAccount: !empty(openAiAccountName)
    location: openAiLocation
    tags: tags
    managedIdentityPrincipalId: apiIdentity.outputs.principalId
    enableDeployments: openAiDeployments
  }
}

// Every setting tunedrop reads that is marked `azure: true` in shared/config/settings.ts
// (test/infra/contract.test.ts keeps the two in step).
var tunedropSettings = {
  ServiceBusConnection__fullyQualifiedNamespace: serviceBus.outputs.fullyQualifiedNamespace
  ServiceBusConnection__credential: 'managedidentity'
  ServiceBusConnection__clientId: apiIdentity.outputs.clientId
  AZURE_CLIENT_ID: apiIdentity.outputs.clientId
  DATABRICKS_HOST: databricksHost
  // A Key Vault reference, resolved by the platform with the user-assigned identity. Empty when no
  // token was given: the code then authenticates to Databricks with an Entra ID token instead.
  DATABRICKS_TOKEN: empty(databricksToken)
    ? ''
    : '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.uri}secrets/${databricksTokenSecretName}/)'
  DATABRICKS_REGION: empty(databricksRegion) ? location : databricksRegion
  AZURE_OPENAI_ENDPOINT: useAzureOpenAI ? openai.?outputs.endpoint ?? '' : ''
  AZURE_OPENAI_REGION: useAzureOpenAI ? openAiLocation : ''
  AZURE_OPENAI_TRAINING_TYPE: openAiTrainingType
  AZURE_OPENAI_ACCOUNT_ID: useAzureOpenAI && openAiDeployments ? openai.?outputs.resourceId ?? '' : ''
  TUNEDROP_VOLUME_PATH: volumePath
  TUNEDROP_STAGING_VOLUME: stagingVolume
  TUNEDROP_EXPERIMENT_ROOT: experimentRoot
  TUNEDROP_POLL_INITIAL_SECONDS: string(pollInitialSeconds)
  TUNEDROP_POLL_MAX_SECONDS: string(pollMaxSeconds)
  TUNEDROP_RUN_DEADLINE_HOURS: string(runDeadlineHours)
  TUNEDROP_SHARDED_VALIDATION_MIN_BYTES: string(shardedValidationMinBytes)
  TUNEDROP_SHARD_BYTES: string(shardBytes)
  TUNEDROP_SHARD_PARALLELISM: string(shardParallelism)
  TUNEDROP_MODEL_ALIAS: modelAlias
  TUNEDROP_TASK_HUB: taskHubName
  TUNEDROP_PUBLIC_BASE_URL: empty(publicBaseUrl) ? 'https://${functionAppName}.azurewebsites.net' : publicBaseUrl
  TUNEDROP_AUTH_TENANT_ID: tenant().tenantId
  TUNEDROP_AUTH_AUDIENCE: join(filter([apiAuth.clientId, apiAuth.appIdUri], a => !empty(a)), ',')
  TUNEDROP_AUTH_EASY_AUTH: string(apiAuth.enableEasyAuth)
  TUNEDROP_AUTH_PLATFORM_ADMIN_ROLE: apiAuth.platformAdminRole
}

var durableTaskSchedulerSettings = durableStorageProvider == 'durableTaskScheduler'
  ? {
      DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskScheduler.?outputs.endpoint};Authentication=ManagedIdentity;ClientID=${apiIdentity.outputs.clientId}'
    }
  : {}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    serviceName: 'api'
    appServicePlanId: appServicePlan.outputs.resourceId
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    applicationInsightsName: monitoring.outputs.name
    identityId: apiIdentity.outputs.resourceId
    identityClientId: apiIdentity.outputs.clientId
    appSettings: union(tunedropSettings, durableTaskSchedulerSettings)
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
  }
}

module rbac 'app/rbac.bicep' = {
  name: 'rbacAssignments'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    serviceBusNamespaceName: serviceBus.outputs.name
    topicName: serviceBus.outputs.topicName
    keyVaultName: keyVault.outputs.name
    appInsightsName: monitoring.outputs.name
    managedIdentityPrincipalId: apiIdentity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module teamAccess 'app/teamAccess.bicep' = {
  name: 'teamAccess'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    datasetsContainerName: resources.containers.datasets
    teamUploaders: apiAuth.teamUploaders
    functionAppName: api.outputs.name
    tenantId: tenant().tenantId
    apiClientId: apiAuth.clientId
    apiAppIdUri: apiAuth.appIdUri
    enableEasyAuth: apiAuth.enableEasyAuth
  }
}

// The system topic only; its subscription to the intake function is created after deploy
// (infra/scripts/postdeploy.sh) because the webhook needs the blobs_extension system key,
// which exists once the code with the EventGrid-source blob trigger runs.
module blobEvents 'br/public:avm/res/event-grid/system-topic:0.6.1' = {
  name: 'blobEventsSystemTopic'
  scope: rg
  params: {
    name: '${abbrs.eventGridSystemTopics}datasets-${resourceToken}'
    location: location
    tags: tags
    source: storage.outputs.resourceId
    topicType: 'Microsoft.Storage.StorageAccounts'
  }
}

output AZURE_LOCATION string = location
// The subscription the resources are in: every az call in the hooks names it (--subscription).
output AZURE_SUBSCRIPTION_ID string = subscription().subscriptionId
output AZURE_TENANT_ID string = tenant().tenantId
output RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_BASE_URL string = 'https://${api.outputs.defaultHostname}'
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.primaryBlobEndpoint
output DATASETS_CONTAINER_NAME string = resources.containers.datasets
output EVENT_GRID_SYSTEM_TOPIC_NAME string = blobEvents.outputs.name
output INTAKE_FUNCTION_NAME string = intakeFunctionName
output MANIFEST_NAME string = manifestName
output SERVICE_BUS_NAMESPACE string = serviceBus.outputs.name
output SERVICE_BUS_TOPIC_NAME string = serviceBus.outputs.topicName
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_KEY_VAULT_URI string = keyVault.outputs.uri
output AZURE_CLIENT_ID string = apiIdentity.outputs.clientId
// The app identity's object id: the postdeploy hook checks its Service Bus role assignments.
output AZURE_APP_PRINCIPAL_ID string = apiIdentity.outputs.principalId
// App settings set as Key Vault references (space-separated): the postdeploy hook waits until each resolves.
output KEY_VAULT_REFERENCE_SETTINGS string = join(
  map(filter(items(tunedropSettings), setting => startsWith(string(setting.value), '@Microsoft.KeyVault(')), setting => setting.key),
  ' '
)
output TUNEDROP_TASK_HUB string = taskHubName
output TUNEDROP_DURABLE_PROVIDER string = durableStorageProvider
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
