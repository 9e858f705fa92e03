#!/bin/sh
# azd postprovision hook: remove the catch-all "$Default" rule Service Bus adds to every
# subscription created through ARM, unless shared/events/topology.json declares it. Without
# this, register-model and notify-teams would receive every event, not just their filters.
set -eu

: "${RESOURCE_GROUP:?run through azd (azd provision / azd up)}"
: "${SERVICE_BUS_NAMESPACE:?}"
: "${SERVICE_BUS_TOPIC_NAME:?}"

project_root=$(cd "$(dirname "$0")/../.." && pwd)
subscriptions=$(node -e '
  const topology = require(process.argv[1]);
  for (const s of topology.subscriptions) if (!s.rules.some((r) => r.name === "$Default")) console.log(s.name);
' "$project_root/shared/events/topology.json")

for subscription in $subscriptions; do
  if az servicebus topic subscription rule show -g "$RESOURCE_GROUP" --namespace-name "$SERVICE_BUS_NAMESPACE" \
    --topic-name "$SERVICE_BUS_TOPIC_NAME" --subscription-name "$subscription" --name '$Default' --output none 2>/dev/null; then
    az servicebus topic subscription rule delete -g "$RESOURCE_GROUP" --namespace-name "$SERVICE_BUS_NAMESPACE" \
      --topic-name "$SERVICE_BUS_TOPIC_NAME" --subscription-name "$subscription" --name '$Default' --output none
    echo "Removed the catch-all \$Default rule from subscription $subscription"
  fi
done
