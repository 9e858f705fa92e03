# Shared by the azd hooks (sourced, not run). POSIX sh; needs az and node.
#
# Rules the hooks keep (test/infra/hooks.test.ts runs them against a recording az stand-in and
# fails on any breach):
# - every az call names the subscription: az_sub appends --subscription, and az rest only ever
#   gets an absolute ARM URL under /subscriptions/$AZURE_SUBSCRIPTION_ID/;
# - no error is swallowed: a failing az call either stops the hook (set -e) or, inside a wait,
#   is printed as the reason for waiting and again in full when the wait gives up;
# - a secret (function keys, the webhook URL) is never printed.

: "${AZURE_SUBSCRIPTION_ID:?run through azd: AZURE_SUBSCRIPTION_ID names the subscription every az call acts on}"
: "${RESOURCE_GROUP:?run through azd (azd provision / azd deploy / azd up)}"

# 60 checks 15 s apart = 15 minutes per wait: longer than the ~10 minutes Azure RBAC documents
# for a role assignment to take effect.
wait_attempts=${TUNEDROP_WAIT_ATTEMPTS:-60}
wait_seconds=${TUNEDROP_WAIT_SECONDS:-15}
# While a Key Vault reference is unresolved, restart the app every this many checks: App Service
# reads references when the app (re)starts, so a reference that failed before the role propagated
# stays failed until then.
restart_every=${TUNEDROP_RESTART_EVERY:-8}

project_root=$(cd "$(dirname "$0")/../.." && pwd)
az_error_file=$(mktemp)
trap 'rm -f "$az_error_file"' EXIT

log() { printf '[tunedrop] %s\n' "$*"; }
fail() {
  printf '[tunedrop] ERROR: %s\n' "$*" >&2
  exit 1
}

az_sub() { az "$@" --subscription "$AZURE_SUBSCRIPTION_ID"; }

# arm_url <provider path below the resource group> <api-version>
arm_url() {
  printf 'https://management.azure.com/subscriptions/%s/resourceGroups/%s/providers/%s?api-version=%s' \
    "$AZURE_SUBSCRIPTION_ID" "$RESOURCE_GROUP" "$1" "$2"
}

# try_az <command...>: runs an az_sub/az rest call for a wait; stdout in $az_out, stderr in
# $az_err, returns its status. The caller prints $az_err: nothing is dropped.
try_az() {
  az_status=0
  az_out=$("$@" 2>"$az_error_file") || az_status=$?
  az_err=$(cat "$az_error_file")
  return "$az_status"
}

first_line() { printf '%s\n' "$1" | sed -n '/./{p;q;}' | cut -c1-300; }

# redact <text> <secret>: the text with every occurrence of the secret replaced.
redact() {
  printf '%s\n' "$1" | awk -v secret="$2" '{
    if (secret != "") while ((i = index($0, secret)) > 0) $0 = substr($0, 1, i - 1) "<redacted>" substr($0, i + length(secret))
    print
  }'
}

# json <json text> <JavaScript expression over d>: the result, an array one item per line.
json() {
  node -e '
    const d = JSON.parse(process.argv[1]);
    const r = (0, eval)("(d) => " + process.argv[2])(d);
    for (const x of Array.isArray(r) ? r : r === undefined || r === null ? [] : [r]) console.log(x);
  ' "$1" "$2"
}

# wait_until <stage> <what it waits for> <check> [<called after each failed check with the attempt>]
# The check returns 0 when ready, else sets $wait_reason. Bounded; prints progress; on giving up
# prints the last reason and $recovery, and exits non-zero.
wait_until() {
  stage=$1 what=$2 check=$3 between=${4:-}
  attempt=1
  while :; do
    wait_reason=''
    if "$check"; then
      log "$stage: ready after $attempt check(s): $what"
      return 0
    fi
    if [ "$attempt" -ge "$wait_attempts" ]; then
      fail "$stage: gave up after $attempt checks ($((attempt * wait_seconds)) s) waiting for $what.
  Last reason: $wait_reason
  ${recovery:-Rerun the hook (azd hooks run <hook>) or azd up: every step is safe to repeat.}"
    fi
    log "$stage: waiting for $what ($attempt/$wait_attempts, next check in ${wait_seconds}s): $wait_reason"
    if [ -n "$between" ]; then "$between" "$attempt"; fi
    sleep "$wait_seconds"
    attempt=$((attempt + 1))
  done
}

# --- The function app host, running as the app identity --------------------------------------

# host_ready <key query>: the host reports Running with no errors, and lists the key the query
# selects. The host keeps its keys in the storage account (AzureWebJobsStorage, identity-based):
# a listable key means the app identity reached storage.
host_key_query=masterKey
host_errors_block=yes
check_host() {
  if ! try_az az rest --method get --url "$(arm_url "Microsoft.Web/sites/$AZURE_FUNCTION_APP_NAME/host/default/properties/status" 2022-03-01)" --output json; then
    wait_reason="host status: $(first_line "$az_err")"
    return 1
  fi
  host=$(json "$az_out" '[(d.properties && d.properties.state) || "", (d.properties && d.properties.errors || []).map((e) => String(e).split("\n")[0].slice(0, 200)).join(" | ")]')
  host_state=$(printf '%s\n' "$host" | sed -n 1p)
  host_errors=$(printf '%s\n' "$host" | sed -n 2p)
  if [ "$host_state" != Running ] || { [ -n "$host_errors" ] && [ "$host_errors_block" = yes ]; }; then
    wait_reason="host ${host_state:-without a state}${host_errors:+: $host_errors}"
    return 1
  fi
  if ! try_az az_sub functionapp keys list -g "$RESOURCE_GROUP" -n "$AZURE_FUNCTION_APP_NAME" --query "$host_key_query" --output tsv; then
    wait_reason="host keys: $(first_line "$az_err")"
    return 1
  fi
  if [ -z "$az_out" ]; then
    wait_reason="the host lists no $host_key_query key yet (it writes its keys to storage; blobs_extension once the EventGrid blob trigger is loaded)"
    return 1
  fi
  host_key=$az_out
  return 0
}

# wait_for_host <stage> <key query> <yes|no: host errors block>. Before the code is deployed
# (postprovision) only storage matters: a host without functions may report errors of its own.
wait_for_host() {
  host_key_query=$2
  host_errors_block=$3
  recovery="The app identity reaches the storage account through its Storage Blob Data Owner, Queue and Table
  Data Contributor roles (infra/app/rbac.bicep); Azure documents up to 10 minutes for a role assignment to take
  effect. Check the host errors above, then rerun: azd up (or azd hooks run $hook_name). See docs/deploy.md."
  wait_until "$1" "the function host to run as its identity and keep its keys in storage" check_host
}
