// Teams kept apart in Azure (issue 13; docs/api.md "Identity" and "Drops").
//
// 1. Drops: each team's uploaders get Storage Blob Data Contributor on the datasets container with
//    an ABAC condition: read, write, add and delete only under the blob path prefix `{team}/`, and
//    list only with a `{team}/` prefix. One shared container (not one per team): the blob trigger's
//    Event Grid filter, the Unity Catalog external volume (zero-copy staging) and shared/config/
//    resources.json all name one datasets container, so onboarding a team is one role assignment,
//    not a new container, event subscription and volume.
// 2. The API: which Entra tenant and audience its tokens come from, the platform-admin app role,
//    and optionally App Service Authentication (Easy Auth) in front of the function app.
//    The app registration itself (App ID URI, the app roles {team}.reader/.submitter/.admin and
//    tunedrop.platform-admin) is created outside this template; its ids come in as parameters.

@description('Storage account holding the datasets container.')
param storageAccountName string

@description('The datasets container (shared/config/resources.json containers.datasets).')
param datasetsContainerName string

@description('Who may upload drops for which team: [{ team, principalId, principalType: Group|User|ServicePrincipal }].')
param teamUploaders array = []

@description('Function app to put App Service Authentication in front of (only when enableEasyAuth).')
param functionAppName string

@description('Entra tenant whose tokens the API accepts.')
param tenantId string

@description('Application (client) id of the API app registration; with apiAppIdUri, the accepted token audiences.')
param apiClientId string = ''

@description('App ID URI of the API app registration, e.g. api://tunedrop (the audience the CLI requests tokens for).')
param apiAppIdUri string = ''

@description('App Service Authentication in front of the app: rejects callers without a valid Entra token before the code runs, and passes the caller in x-ms-client-principal.')
param enableEasyAuth bool = false

// Storage Blob Data Contributor (built-in role, the same id in every tenant).
var storageBlobDataContributor = 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'

// Azure role assignment condition (version 2.0). TEAM_PREFIX is replaced by "{team}/".
// Blob reads, writes, creates and deletes must target a path under the prefix; listing
// (read with the Blob.List suboperation, which has no blob path) must ask for that prefix; moves
// (rename, hierarchical namespace) are refused: a condition cannot pin the destination path.
var prefixCondition = '''
(
 !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/move/action'})
)
AND
(
 (
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND NOT SubOperationMatches{'Blob.List'})
  AND
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/write'})
  AND
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/add/action'})
  AND
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})
 )
 OR
 (
  @Resource[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:path] StringStartsWith 'TEAM_PREFIX'
 )
)
AND
(
 (
  !(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})
 )
 OR
 (
  @Request[Microsoft.Storage/storageAccounts/blobServices/containers/blobs:prefix] StringStartsWith 'TEAM_PREFIX'
 )
)
'''

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: storage
  name: 'default'
}

resource datasets 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: blobService
  name: datasetsContainerName
}

resource teamUploaderAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for uploader in teamUploaders: {
    name: guid(datasets.id, uploader.principalId, storageBlobDataContributor, uploader.team)
    scope: datasets
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataContributor)
      principalId: uploader.principalId
      principalType: uploader.principalType
      description: 'tunedrop: team ${uploader.team} reads and writes only datasets/${uploader.team}/'
      conditionVersion: '2.0'
      condition: replace(prefixCondition, 'TEAM_PREFIX', '${uploader.team}/')
    }
  }
]

var audiences = filter([apiClientId, apiAppIdUri], a => !empty(a))

resource site 'Microsoft.Web/sites@2023-12-01' existing = {
  name: functionAppName
}

resource easyAuth 'Microsoft.Web/sites/config@2023-12-01' = if (enableEasyAuth) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      // Public routes (shared/api/routes/index.ts: access public).
      excludedPaths: [
        '/api/health'
        '/api/openapi.json'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: apiClientId
          openIdIssuer: 'https://login.microsoftonline.com/${tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: audiences
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}

output audiences string = join(audiences, ',')
output easyAuthEnabled bool = enableEasyAuth
