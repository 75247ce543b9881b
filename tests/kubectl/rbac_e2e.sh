#!/usr/bin/env bash
# Issue #26's acceptance with real kubectl against a real berth-hub: users and a service
# account get bearer tokens from `berthctl user|serviceaccount create`, RBAC objects are applied
# with kubectl, and every request is checked against what `kubectl auth can-i [--list]` says
# and against the audit log (--audit-log). Users:
#   alice  edit in team-a          creates a Workspace there, 403 in team-b
#   vera   view in team-a          lists and watches, cannot patch
#   ci     service account team-a  a Role on workspaces only: cannot read Secrets
#   lead   admin in team-a         may bind edit, may not bind cluster-admin (escalation)
#   dana   a client certificate (`berth-hub kubeconfig user`, O=team-a-devs): the group holds
#          edit in team-a; certificates from another CA, expired ones and the hub's serving
#          certificate are refused in the TLS handshake
# Run by ctest (tests/kubectl).
SUITE=rbac-e2e
source "$(dirname "$0")/lib.sh"
start_hub --audit-log "$WORK/audit.log"
BERTHCTL="$BIN_DIR/berthctl"

# --- Set-up, as the admin -------------------------------------------------------------
expect "api-resources lists the RBAC kinds"  'rolebindings +rbac\.authorization\.k8s\.io/v1 +true +RoleBinding' kubectl api-resources
expect "cluster roles are cluster-scoped"    'clusterroles +rbac\.authorization\.k8s\.io/v1 +false +ClusterRole' kubectl api-resources
expect "built-in roles are stored"           'clusterrole.rbac.authorization.k8s.io/edit' kubectl get clusterroles -o name
kubectl create namespace team-a >/dev/null
kubectl create namespace team-b >/dev/null
for u in alice vera lead; do
  "$BERTHCTL" user create "$u" >"$WORK/$u.kubeconfig" 2>"$WORK/$u.err"
done
"$BERTHCTL" serviceaccount create -n team-a ci >"$WORK/ci.kubeconfig" 2>"$WORK/ci.err"
expect "user create prints a kubeconfig"     'token: ' cat "$WORK/alice.kubeconfig"
expect "the token is shown once, with a hint" 'shown only this once' cat "$WORK/alice.err"
expect "records are IdentityTokens, no token" 'User +alice' kubectl get identitytokens
expect_not "records hold no token"            "$(grep 'token: ' "$WORK/alice.kubeconfig" | awk '{print $2}')" kubectl get identitytokens -o yaml

cat >"$WORK/rbac.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: alice-edit, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: alice}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: vera-view, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: vera}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lead-admin, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: lead}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: workspaces-only, namespace: team-a}
rules:
- apiGroups: [berth.dev]
  resources: [workspaces]
  verbs: [get, list, watch, create, update, patch, delete]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ci-workspaces, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: workspaces-only}
subjects: [{kind: ServiceAccount, name: ci}]
YAML
expect "kubectl apply of RBAC objects"       'role.rbac.authorization.k8s.io/workspaces-only created' kubectl apply -f "$WORK/rbac.yaml"
expect "apply again is unchanged"            'rolebinding.rbac.authorization.k8s.io/alice-edit unchanged' kubectl apply -f "$WORK/rbac.yaml"
expect "get rolebindings shows the role"     'alice-edit +ClusterRole/edit' kubectl get rolebindings -n team-a
expect "roleRef cannot change"               'cannot change roleRef' \
  kubectl patch rolebinding alice-edit -n team-a --type merge -p '{"roleRef":{"name":"view"}}'
expect "a rule needs verbs (validation)"     'rules\[0\]\.verbs' kubectl apply -f - <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: broken, namespace: team-a}
rules: [{apiGroups: [""], resources: [configmaps], verbs: []}]
YAML
kubectl create secret generic db -n team-a --from-literal=password=hunter2 >/dev/null

as() { local who=$1; shift; kubectl --kubeconfig "$WORK/$who.kubeconfig" "$@"; }
ws() {  # a Workspace manifest in namespace $1
  printf 'apiVersion: berth.dev/v1alpha1\nkind: Workspace\nmetadata: {name: chat, namespace: %s}\ninference: {preset: {name: phi-4-mini-instruct}}\n' "$1"
}
ws team-a >"$WORK/ws-a.yaml"
ws team-b >"$WORK/ws-b.yaml"

# --- Identities -----------------------------------------------------------------------
expect "whoami: alice"                       'Username +alice' as alice auth whoami
expect "whoami: the service account"         'Username +system:serviceaccount:team-a:ci' as ci auth whoami
expect "service account groups"              'system:serviceaccounts:team-a' as ci auth whoami

# --- alice: edit in team-a ------------------------------------------------------------
expect "can-i: alice creates in team-a"      '^yes$' as alice auth can-i create workspaces -n team-a
expect "alice creates a Workspace in team-a" 'workspace.berth.dev/chat created' as alice create -f "$WORK/ws-a.yaml"
expect "can-i: not in team-b"                '^no( - |$)' as alice auth can-i create workspaces -n team-b
expect "alice gets 403 in team-b"            'Error from server \(Forbidden\).*User "alice" cannot create resource "workspaces" in API group "berth.dev" in the namespace "team-b"' \
  as alice create -f "$WORK/ws-b.yaml"
expect "can-i: alice reads team-a's Secrets" '^yes$' as alice auth can-i get secrets -n team-a
expect "and really does"                     '^db ' as alice get secrets -n team-a --no-headers
expect "can-i: alice reads no /metrics"      '^no( - |$)' as alice auth can-i get /metrics
expect "and really is refused"               'Forbidden|forbidden' as alice get --raw /metrics

# --- vera: view in team-a -------------------------------------------------------------
expect "can-i: vera lists"                   '^yes$' as vera auth can-i list workspaces -n team-a
expect "vera lists"                          '^chat ' as vera get ws -n team-a --no-headers
expect "can-i: vera watches"                 '^yes$' as vera auth can-i watch workspaces -n team-a
expect "vera watches"                        'chat' timeout 3 kubectl --kubeconfig "$WORK/vera.kubeconfig" get ws -n team-a -w --no-headers
expect "can-i: vera does not patch"          '^no( - |$)' as vera auth can-i patch workspaces -n team-a
expect "vera's patch is 403"                 'Forbidden.*User "vera" cannot patch resource "workspaces"' \
  as vera patch ws chat -n team-a --type merge -p '{"metadata":{"labels":{"x":"y"}}}'
expect "can-i: vera approves no rollout"     '^no( - |$)' as vera auth can-i update workspaces/status -n team-a
expect "vera's status write (approve) is 403" '[Ff]orbidden.*User "vera" cannot patch resource "workspaces/status"' \
  as vera patch ws chat -n team-a --subresource=status --type merge -p '{"status":{"rollout":{"approvedStage":0}}}'
expect "can-i: alice may approve in team-a"  '^yes$' as alice auth can-i update workspaces/status -n team-a
expect "can-i: vera reads no Secrets"        '^no( - |$)' as vera auth can-i get secrets -n team-a
expect "and really is refused"               'Forbidden.*cannot list resource "secrets"' as vera get secrets -n team-a

# --- ci: a service account bound to workspaces only -----------------------------------
expect "can-i: ci lists workspaces"          '^yes$' as ci auth can-i list workspaces -n team-a
expect "ci lists workspaces"                 '^chat ' as ci get ws -n team-a --no-headers
expect "can-i: ci reads no Secrets"          '^no( - |$)' as ci auth can-i get secrets -n team-a
expect "ci cannot read Secrets"              'Forbidden.*User "system:serviceaccount:team-a:ci" cannot get resource "secrets"' \
  as ci get secret db -n team-a

# --- lead: admin in team-a; escalation -------------------------------------------------
cat >"$WORK/grant-edit.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: bob-edit, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: edit}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: bob}]
YAML
cat >"$WORK/grant-admin.yaml" <<'YAML'
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: lead-cluster-admin, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster-admin}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: User, name: lead}]
YAML
expect "lead binds what it holds"            'rolebinding.rbac.authorization.k8s.io/bob-edit created' as lead create -f "$WORK/grant-edit.yaml"
expect "escalation is refused"               'Forbidden.*user "lead" .*is attempting to grant RBAC permissions not currently held' \
  as lead create -f "$WORK/grant-admin.yaml"
expect "kubectl create rolebinding (protobuf)" 'rolebinding.rbac.authorization.k8s.io/carol-view created' \
  as lead create rolebinding carol-view --clusterrole=view --user=carol -n team-a
expect "kubectl create role (protobuf)"      'role.rbac.authorization.k8s.io/cm-reader created' \
  kubectl create role cm-reader --verb=get --resource=configmaps -n team-b
expect "alice may not write RBAC at all"     'Forbidden.*User "alice" cannot create resource "rolebindings"' \
  as alice create -f "$WORK/grant-edit.yaml" -n team-a

# --- dana: a client certificate signed by the hub's CA (CN = user, O = groups) ------------
HUB_BIN="$BIN_DIR/berth-hub"
"$HUB_BIN" kubeconfig user --data-dir "$WORK/hub" --client-name dana --org team-a-devs --org qa \
  --validity 2h >"$WORK/dana.kubeconfig" 2>"$WORK/dana.err"
expect "kubeconfig user embeds a certificate" 'client-certificate-data: ' cat "$WORK/dana.kubeconfig"
expect "and says it cannot be revoked"       'valid until .*cannot be revoked' cat "$WORK/dana.err"
expect "no member names"                     'member agents authenticate with their join credential' \
  "$HUB_BIN" kubeconfig user --data-dir "$WORK/hub" --client-name system:member:x
kubectl create rolebinding devs-edit --clusterrole=edit --group=team-a-devs -n team-a >/dev/null
expect "whoami: the certificate's CN"        'Username +dana' as dana auth whoami
expect "whoami: its O's are the groups"      'Groups +\[team-a-devs qa system:authenticated\]' as dana auth whoami
expect "can-i: the group's binding applies"  '^yes$' as dana auth can-i create configmaps -n team-a
expect "dana creates in team-a"              'configmap/dana-notes created' as dana create configmap dana-notes -n team-a --from-literal=a=b
expect "dana gets 403 in team-b"             '[Ff]orbidden.*User "dana" cannot create resource "configmaps" in API group "" in the namespace "team-b"' \
  as dana create configmap dana-notes -n team-b --from-literal=a=b
expect "the Python client authenticates too" 'dana-notes' /usr/bin/python3 -c '
import sys; from kubernetes import client, config
config.load_kube_config(sys.argv[1])
print([c.metadata.name for c in client.CoreV1Api().list_namespaced_config_map("team-a").items])' "$WORK/dana.kubeconfig"
"$HUB_BIN" kubeconfig user --data-dir "$WORK/hub" --client-name eve --validity 1s >"$WORK/eve.kubeconfig" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/other-ca.key" \
  -out "$WORK/other-ca.crt" -subj /CN=other-ca -days 1 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/mallory.key" \
  -out "$WORK/mallory.csr" -subj "/O=system:masters/CN=mallory" 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' >"$WORK/client.ext"
openssl x509 -req -in "$WORK/mallory.csr" -CA "$WORK/other-ca.crt" -CAkey "$WORK/other-ca.key" -CAcreateserial \
  -out "$WORK/mallory.crt" -days 1 -extfile "$WORK/client.ext" 2>/dev/null
cp "$WORK/dana.kubeconfig" "$WORK/mallory.kubeconfig"
kubectl --kubeconfig "$WORK/mallory.kubeconfig" config set-credentials dana --embed-certs \
  --client-certificate="$WORK/mallory.crt" --client-key="$WORK/mallory.key" >/dev/null
expect "another CA's certificate is refused" 'tls: unknown certificate authority' as mallory get ns
sleep 1.2
expect "an expired certificate is refused"   'tls: expired certificate' as eve get ns
expect "the serving certificate is no client" 'unsupported certificate' \
  curl -sS --cacert "$WORK/hub/pki/ca.crt" --cert "$WORK/hub/pki/server.crt" --key "$WORK/hub/pki/server.key" \
  "https://127.0.0.1:$PORT/api"

# --- can-i --list agrees with what the requests got ------------------------------------
as alice auth can-i --list -n team-a >"$WORK/alice.list" 2>&1
as vera auth can-i --list -n team-a >"$WORK/vera.list" 2>&1
as ci auth can-i --list -n team-a >"$WORK/ci.list" 2>&1
expect "alice's list: writes workspaces"     '^workspaces\.berth\.dev +\[\] +\[\] +\[.*create.*patch.*\]' cat "$WORK/alice.list"
expect "alice's list: reads secrets"         '^secrets +\[\] +\[\] +\[.*get.*\]' cat "$WORK/alice.list"
expect "vera's list: reads workspaces only"  '^workspaces\.berth\.dev +\[\] +\[\] +\[get list watch\]' cat "$WORK/vera.list"
expect_not "vera's list: no secrets"         '^secrets ' cat "$WORK/vera.list"
expect "ci's list: its Role"                 '^workspaces\.berth\.dev +\[\] +\[\] +\[get list watch create update patch delete\]' cat "$WORK/ci.list"
expect_not "ci's list: no secrets"           '^secrets ' cat "$WORK/ci.list"
expect "everyone's list: discovery"          '\[/api/\*\] +\[\] +\[get\]' cat "$WORK/ci.list"
expect_not "team-b grants alice nothing"     '^workspaces' as alice auth can-i --list -n team-b

# --- Revocation and bad tokens ---------------------------------------------------------
expect "berthctl user revoke"                'revoked token' "$BERTHCTL" user revoke vera
expect "a revoked token is 401"              'Unauthorized|provide credentials' as vera get ws -n team-a
expect "a wrong token's delete is 401"       'Unauthorized|provide credentials' kubectl --token=not-a-token delete ws chat -n team-a

# --- The audit log ---------------------------------------------------------------------
audit() {  # audit USER VERB RESOURCE NAMESPACE CODE: one line matches all of them
  python3 - "$WORK/audit.log" "$@" <<'PY'
import json, sys
path, user, verb, resource, ns, code = sys.argv[1:]
lines = [json.loads(l) for l in open(path)]
hits = [l for l in lines if l["user"] == user and l["verb"] == verb and l["resource"] == resource
        and l["namespace"] == ns and l["code"] == int(code)]
print(f"{len(hits)} of {len(lines)} lines match" if hits else "\n".join(json.dumps(l) for l in lines[-20:]))
sys.exit(0 if hits else 1)
PY
}
expect "audit: alice's create"               'lines match' audit alice create workspaces team-a 201
expect "audit: alice's 403 in team-b"        'lines match' audit alice create workspaces team-b 403
expect "audit: vera's refused patch"         'lines match' audit vera patch workspaces team-a 403
expect "audit: lead's binding"               'lines match' audit lead create rolebindings team-a 201
expect "audit: lead's escalation"            'lines match' audit lead create rolebindings team-a 403
expect "audit: alice's refused binding"      'lines match' audit alice create rolebindings team-a 403
expect "audit: the 401 delete, nobody"       'lines match' audit "" delete workspaces team-a 401
expect "audit: dana's create (certificate)"  'lines match' audit dana create configmaps team-a 201
expect "audit: dana's 403 in team-b"         'lines match' audit dana create configmaps team-b 403
expect "audit: the admin's apply"            'lines match' audit admin create roles team-a 201
expect_not "audit: reads are not logged"     '"verb": ?"(get|list|watch)"' cat "$WORK/audit.log"
expect_not "audit: no Secret data"           'hunter2|aHVudGVyMg' cat "$WORK/audit.log"
expect_not "no panic in hub log"             'terminate|Segmentation|std::' cat "$WORK/hub.log"

finish
