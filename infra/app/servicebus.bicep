// Service Bus: the namespace (AVM) and exactly the topology the code uses, read from the
// same file (shared/events/topology.json). Nothing here names a topic, subscription or rule.
param name string
param location string = resourceGroup().location
param tags object = {}

var topology = loadJsonContent('../../shared/events/topology.json')

// Subscriptions × rules, flattened: Bicep loops cannot nest. A rule has either a correlation
// filter or a SQL filter, so its type is untyped (any) rather than a union the compiler narrows.
var rules = flatten(map(topology.subscriptions, subscription => map(subscription.rules, rule => {
  subscriptionName: subscription.name
  rule: any(rule)
})))

module namespace 'br/public:avm/res/service-bus/namespace:0.10.1' = {
  name: 'service-bus-namespace'
  params: {
    name: name
    location: location
    tags: tags
    // Standard is the lowest tier with topics; Premium only for VNet isolation or > 256 KB messages.
    skuObject: { name: 'Standard' }
    // Entra ID only: the app connects with the managed identity (ServiceBusConnection__*).
    disableLocalAuth: true
    // No SAS rules at all (the module adds RootManageSharedAccessKey by default).
    authorizationRules: []
    minimumTlsVersion: '1.2'
    zoneRedundant: false
  }
}

resource serviceBus 'Microsoft.ServiceBus/namespaces@2022-10-01-preview' existing = {
  name: name
}

resource topic 'Microsoft.ServiceBus/namespaces/topics@2022-10-01-preview' = {
  parent: serviceBus
  name: topology.topic.name
  dependsOn: [namespace]
  properties: {
    requiresDuplicateDetection: topology.topic.requiresDuplicateDetection
    duplicateDetectionHistoryTimeWindow: topology.topic.duplicateDetectionHistoryTimeWindow
    defaultMessageTimeToLive: topology.topic.defaultMessageTimeToLive
    enableBatchedOperations: true
  }
}

resource subscriptions 'Microsoft.ServiceBus/namespaces/topics/subscriptions@2022-10-01-preview' = [
  for subscription in topology.subscriptions: {
    parent: topic
    name: subscription.name
    properties: {
      maxDeliveryCount: subscription.maxDeliveryCount
      lockDuration: subscription.lockDuration
      deadLetteringOnMessageExpiration: subscription.deadLetteringOnMessageExpiration
      deadLetteringOnFilterEvaluationExceptions: true
      defaultMessageTimeToLive: topology.topic.defaultMessageTimeToLive
    }
  }
]

resource subscriptionRules 'Microsoft.ServiceBus/namespaces/topics/subscriptions/rules@2022-10-01-preview' = [
  for entry in rules: {
    name: '${name}/${topology.topic.name}/${entry.subscriptionName}/${entry.rule.name}'
    dependsOn: [subscriptions]
    properties: contains(entry.rule, 'correlationFilter')
      ? {
          filterType: 'CorrelationFilter'
          correlationFilter: {
            correlationId: entry.rule.correlationFilter.?correlationId
            messageId: entry.rule.correlationFilter.?messageId
            label: entry.rule.correlationFilter.?subject
            contentType: entry.rule.correlationFilter.?contentType
            properties: entry.rule.correlationFilter.?properties ?? {}
          }
        }
      : {
          filterType: 'SqlFilter'
          sqlFilter: { sqlExpression: entry.rule.sqlFilter }
        }
  }
]

output name string = namespace.outputs.name
output resourceId string = namespace.outputs.resourceId
output fullyQualifiedNamespace string = '${namespace.outputs.name}.servicebus.windows.net'
output topicName string = topic.name
output topicResourceId string = topic.id
output subscriptionNames array = map(topology.subscriptions, subscription => subscription.name)
