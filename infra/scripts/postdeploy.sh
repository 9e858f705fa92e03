#!/bin/sh
# azd postdeploy hook: subscribe the intake function to BlobCreated events for manifests.
# The webhook needs the blobs_extension system key, which the host creates once the deployed
# code with an EventGrid-source blob trigger has started: so this runs after deploy, as in the
# Azure-Samples Event Grid blob trigger quickstart. Idempotent (create-or-update).
set -eu

: "${RESOURCE_GROUP:?run through azd (azd deploy / azd up)}"
: "${AZURE_FUNCTION_APP_NAME:?}"
: "${EVENT_GRID_SYSTEM_TOPIC_NAME:?}"
: "${DATASETS_CONTAINER_NAME:?}"
: "${INTAKE_FUNCTION_NAME:?}"
: "${MANIFEST_NAME:?}"

# The key appears a little after the first start of the new code: wait up to 5 minutes.
max_attempts=${TUNEDROP_KEY_WAIT_ATTEMPTS:-20}
wait_seconds=${TUNEDROP_KEY_WAIT_SECONDS:-15}
blobs_extension_key=""
attempt=0
while [ -z "$blobs_extension_key" ] && [ "$attempt" -lt "$max_attempts" ]; do
  blobs_extension_key=$(az functionapp keys list -g "$RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" \
    --query "systemKeys.blobs_extension" -o tsv 2>/dev/null || true)
  if [ -z "$blobs_extension_key" ]; then
    attempt=$((attempt + 1))
    echo "Waiting for the blobs_extension key of $AZURE_FUNCTION_APP_NAME ($attempt/$max_attempts)..."
    sleep "$wait_seconds"
  fi
done
if [ -z "$blobs_extension_key" ]; then
  echo "The blobs_extension system key did not appear. Is functions/$INTAKE_FUNCTION_NAME deployed with source 'EventGrid'?" >&2
  exit 1
fi

host_name=$(az functionapp show -g "$RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query defaultHostName -o tsv)
# Never echo this URL: it carries the key.
endpoint="https://${host_name}/runtime/webhooks/blobs?functionName=Host.Functions.${INTAKE_FUNCTION_NAME}&code=${blobs_extension_key}"

az eventgrid system-topic event-subscription create \
  --name "${INTAKE_FUNCTION_NAME}-manifests" \
  -g "$RESOURCE_GROUP" \
  --system-topic-name "$EVENT_GRID_SYSTEM_TOPIC_NAME" \
  --endpoint-type webhook \
  --endpoint "$endpoint" \
  --included-event-types Microsoft.Storage.BlobCreated \
  --subject-begins-with "/blobServices/default/containers/${DATASETS_CONTAINER_NAME}/" \
  --subject-ends-with "/${MANIFEST_NAME}" \
  --max-delivery-attempts 30 \
  --event-ttl 1440 \
  --output none

echo "Event Grid: BlobCreated on ${DATASETS_CONTAINER_NAME}/**/${MANIFEST_NAME} -> function ${INTAKE_FUNCTION_NAME}"
