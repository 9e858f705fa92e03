#!/bin/sh
# azd postprovision hook, between provisioning and the code upload. Safe to rerun.
# 1. Remove the catch-all "$Default" rule Service Bus adds to every subscription created through
#    ARM, unless shared/events/topology.json declares it: otherwise register-model would receive
#    every event and throw on each one that is not run.completed, until it dead-letters.
# 2. Wait until the app identity reaches storage: the Flex deployment upload that follows
#    (azd deploy) writes the package with that identity and fails with 403 until its role has
#    propagated (docs/deploy.md, "First deploy").
set -eu

: "${AZURE_SUBSCRIPTION_ID:?run through azd (azd provision / azd up)}"
: "${RESOURCE_GROUP:?run through azd (azd provision / azd up)}"
: "${SERVICE_BUS_NAMESPACE:?}"
: "${SERVICE_BUS_TOPIC_NAME:?}"
: "${AZURE_FUNCTION_APP_NAME:?}"
hook_name=postprovision
. "$(dirname "$0")/lib.sh"

subscriptions=$(node -e '
  const topology = require(process.argv[1]);
  for (const s of topology.subscriptions) if (!s.rules.some((r) => r.name === "$Default")) console.log(s.name);
' "$project_root/shared/events/topology.json")

for subscription in $subscriptions; do
  # list, not show: "not found" must not look like a failed call, and a failed call must stop us.
  rules=$(az_sub servicebus topic subscription rule list -g "$RESOURCE_GROUP" --namespace-name "$SERVICE_BUS_NAMESPACE" \
    --topic-name "$SERVICE_BUS_TOPIC_NAME" --subscription-name "$subscription" --query "[].name" --output tsv)
  if printf '%s\n' "$rules" | grep -qx '\$Default'; then
    az_sub servicebus topic subscription rule delete -g "$RESOURCE_GROUP" --namespace-name "$SERVICE_BUS_NAMESPACE" \
      --topic-name "$SERVICE_BUS_TOPIC_NAME" --subscription-name "$subscription" --name '$Default' --output none
    log "removed the catch-all \$Default rule from subscription $subscription"
  fi
done

wait_for_host "storage" masterKey no
