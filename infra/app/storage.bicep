// Storage for the host (AzureWebJobsStorage: blob leases, queues and tables of the Durable
// Functions task hub), the Flex Consumption deployment package, and tunedrop's own
// containers and tables. Names come from the file the code reads (shared/config/resources.json).
param name string
param location string = resourceGroup().location
param tags object = {}
@description('Blob container Flex Consumption deploys the app package to.')
param deploymentContainerName string
@description('ADLS Gen2: lets Unity Catalog use the datasets container as an external location.')
param enableHierarchicalNamespace bool = false

var resources = loadJsonContent('../../shared/config/resources.json')
var appContainerNames = map(items(resources.containers), entry => entry.value)
var tableNames = map(items(resources.tables), entry => entry.value)

module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage-account'
  params: {
    name: name
    location: location
    tags: tags
    kind: 'StorageV2'
    skuName: 'Standard_LRS'
    enableHierarchicalNamespace: enableHierarchicalNamespace
    allowBlobPublicAccess: false
    // Identity only: the app, Event Grid and Databricks (access connector) all use Entra ID.
    allowSharedKeyAccess: false
    dnsEndpointType: 'Standard'
    minimumTlsVersion: 'TLS1_2'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: map(concat([deploymentContainerName], appContainerNames), containerName => { name: containerName })
    }
  }
}

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: name
}

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2023-05-01' = {
  parent: account
  name: 'default'
  dependsOn: [storage]
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2023-05-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

output name string = storage.outputs.name
output resourceId string = storage.outputs.resourceId
output primaryBlobEndpoint string = storage.outputs.primaryBlobEndpoint
output datasetsContainerName string = resources.containers.datasets
output containerNames array = appContainerNames
output tableNames array = tableNames
