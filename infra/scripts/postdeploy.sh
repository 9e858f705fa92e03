#!/bin/sh
# azd postdeploy hook: make sure the deployed app can reach what it needs, then subscribe the
# intake function to BlobCreated events for manifests. Safe to rerun (azd up, azd deploy or
# azd hooks run postdeploy); every step checks or creates-or-updates.
#
# 1. storage      the host runs as the app identity and keeps its keys in the storage account;
#                 the blobs_extension key exists once the EventGrid-source blob trigger is loaded
# 2. Service Bus  the app identity holds Data Receiver + Data Owner on every subscription a
#                 trigger reads and Data Sender on the topic (fails at once if not: Bicep grants
#                 them; a missing one is drift, not propagation)
# 3. Key Vault    every Key Vault reference in the app settings reports Resolved (the app is
#                 restarted every few checks meanwhile: references are read at start), then one
#                 restart so the worker starts with the secret values, then step 1 again
# 4. Event Grid   the webhook subscription, retried while the endpoint validation fails
set -eu

: "${AZURE_SUBSCRIPTION_ID:?run through azd (azd deploy / azd up)}"
: "${RESOURCE_GROUP:?run through azd (azd deploy / azd up)}"
: "${AZURE_FUNCTION_APP_NAME:?}"
: "${AZURE_APP_PRINCIPAL_ID:?}"
: "${SERVICE_BUS_NAMESPACE:?}"
: "${SERVICE_BUS_TOPIC_NAME:?}"
: "${EVENT_GRID_SYSTEM_TOPIC_NAME:?}"
: "${DATASETS_CONTAINER_NAME:?}"
: "${INTAKE_FUNCTION_NAME:?}"
: "${MANIFEST_NAME:?}"
# Settings Bicep set as Key Vault references (space-separated; empty when none).
key_vault_settings=${KEY_VAULT_REFERENCE_SETTINGS-}
hook_name=postdeploy
. "$(dirname "$0")/lib.sh"

# Built-in role ids (the same in every tenant); test/infra/hooks.test.ts keeps them equal to
# infra/app/rbac.bicep's.
service_bus_data_sender=69a216fc-b8fb-44d8-bc22-1f3c2cd27a39
service_bus_data_receiver=4f6d3b9b-027b-4f4c-9142-0e5a2a2247e0
service_bus_data_owner=090c5cfd-751d-490a-894a-3ce6f1109419

# --- 1. storage ----------------------------------------------------------------------------------
wait_for_host "storage" "systemKeys.blobs_extension" yes

# --- 2. Service Bus ------------------------------------------------------------------------------
topic_scope="/subscriptions/$AZURE_SUBSCRIPTION_ID/resourceGroups/$RESOURCE_GROUP/providers/Microsoft.ServiceBus/namespaces/$SERVICE_BUS_NAMESPACE/topics/$SERVICE_BUS_TOPIC_NAME"
app_roles_at() {
  az_sub role assignment list --scope "$1" --query "[?principalId=='$AZURE_APP_PRINCIPAL_ID'].roleDefinitionId" --output tsv
}
has_role() { printf '%s\n' "$1" | grep -q "/$2\$"; }
missing=''
roles=$(app_roles_at "$topic_scope")
has_role "$roles" "$service_bus_data_sender" || missing="$missing
  Data Sender on topic $SERVICE_BUS_TOPIC_NAME"
trigger_subscriptions=$(node -e '
  for (const s of require(process.argv[1]).subscriptions) console.log(s.name);
' "$project_root/shared/events/topology.json")
for subscription in $trigger_subscriptions; do
  roles=$(app_roles_at "$topic_scope/subscriptions/$subscription")
  has_role "$roles" "$service_bus_data_receiver" || missing="$missing
  Data Receiver on subscription $subscription"
  has_role "$roles" "$service_bus_data_owner" || missing="$missing
  Data Owner on subscription $subscription"
done
if [ -n "$missing" ]; then
  fail "Service Bus: the app identity lacks roles its triggers and publisher need:$missing
  infra/app/rbac.bicep grants them; run azd provision to restore them, then azd hooks run postdeploy."
fi
log "Service Bus: the app identity holds Data Receiver + Data Owner on $(printf '%s\n' "$trigger_subscriptions" | wc -l | tr -d ' ') trigger subscriptions and Data Sender on the topic"

# --- 3. Key Vault --------------------------------------------------------------------------------
check_references() {
  if ! try_az az rest --method get --url "$(arm_url "Microsoft.Web/sites/$AZURE_FUNCTION_APP_NAME/config/configreferences/appsettings" 2022-03-01)" --output json; then
    wait_reason="reference status: $(first_line "$az_err")"
    return 1
  fi
  # Names and statuses only: never the reference text or its details.
  statuses=$(json "$az_out" '(d.value || []).map((r) => r.name.split("/").pop() + " " + ((r.properties && r.properties.status) || "unknown"))')
  pending=$(printf '%s\n' "$statuses" | sed '/ Resolved$/d')
  reported=$(printf '%s\n' "$statuses" | sed 's/ .*//')
  reference_count=$(printf '%s\n' "$reported" | sed '/^$/d' | wc -l | tr -d ' ')
  for setting in $key_vault_settings; do
    printf '%s\n' "$reported" | grep -qx "$setting" || pending="$pending
$setting not reported yet"
  done
  pending=$(printf '%s\n' "$pending" | sed '/^$/d' | paste -sd ',' - | sed 's/,/, /g')
  if [ -n "$pending" ]; then
    wait_reason=$pending
    return 1
  fi
  return 0
}
restart_app() {
  az_sub functionapp restart -g "$RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --output none
  restarts=$((restarts + 1))
}
restart_while_unresolved() {
  if [ $(($1 % restart_every)) -eq 0 ]; then
    log "Key Vault: restarting $AZURE_FUNCTION_APP_NAME so App Service reads the references again"
    restart_app
  fi
}
restarts=0
recovery="The app identity reads secrets through Key Vault Secrets User on the vault (infra/app/rbac.bicep).
  Until a reference resolves the app sees its literal text, which tunedrop refuses (shared/config/settings.ts).
  Check the status above (AccessToKeyVaultDenied: role not effective yet; SecretNotFound: the secret is missing),
  then rerun: azd hooks run postdeploy. See docs/deploy.md."
wait_until "Key Vault" "every Key Vault reference in the app settings to resolve" check_references restart_while_unresolved
if [ "$reference_count" -gt 0 ]; then
  log "Key Vault: $reference_count reference(s) resolved; restarting $AZURE_FUNCTION_APP_NAME so the worker starts with the values"
  restart_app
  wait_for_host "storage (after restart)" "systemKeys.blobs_extension" yes
fi
blobs_extension_key=$host_key

# --- 4. Event Grid -------------------------------------------------------------------------------
host_name=$(az_sub functionapp show -g "$RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query defaultHostName --output tsv)
# Never print this URL: it carries the key.
endpoint="https://${host_name}/runtime/webhooks/blobs?functionName=Host.Functions.${INTAKE_FUNCTION_NAME}&code=${blobs_extension_key}"
create_event_subscription() {
  # Create-or-update: the same command on every run.
  if try_az az_sub eventgrid system-topic event-subscription create \
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
    --output none; then
    return 0
  fi
  # Event Grid validates the endpoint with a handshake the host answers: it can fail while the
  # host is still warming up after the restart.
  wait_reason=$(redact "$(first_line "$az_err")" "$blobs_extension_key")
  recovery="Full error (key redacted):
$(redact "$az_err" "$blobs_extension_key")
  Check that functions/$INTAKE_FUNCTION_NAME is deployed with source 'EventGrid', then: azd hooks run postdeploy."
  return 1
}
wait_attempts=${TUNEDROP_EVENT_GRID_ATTEMPTS:-8}
wait_until "Event Grid" "the BlobCreated subscription to be created and validated" create_event_subscription

log "Event Grid: BlobCreated on ${DATASETS_CONTAINER_NAME}/**/${MANIFEST_NAME} -> function ${INTAKE_FUNCTION_NAME}"
