
use builtin;
use str;

set edit:completion:arg-completer[meshctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'meshctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'meshctl'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand validate 'Check policy files offline: schema, references between resources, mTLS and JWT settings'
            cand generate 'Print policy YAML for a common intent; every document passes `meshctl validate`'
            cand install 'Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane, ingress gateway, mesh CA), or with --local start one on this machine: the controller in the background, which runs the workloads, their sidecars and the ingress gateway'
            cand uninstall 'Remove what `install` made from the cluster, or with --local stop the local mesh and every process it started'
            cand controller 'Run the control plane in the foreground (what `install` starts in the background)'
            cand inject 'Add the mesh''s sidecar to the Pods of manifests, as the cluster''s webhook does when a Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without the webhook, or to see what it adds). Prints the manifests'
            cand capture 'Set up traffic capture in this network namespace (the injected init container)'
            cand apply 'Validate resources and store them in the mesh; with an error, nothing is stored'
            cand analyze 'Find what is wrong with the running mesh: every validation rule over its stored policy (with files given by -f as if applied), and what only the running mesh shows'
            cand get 'List resources of one kind or several (`vs,dr`), or show some by name'
            cand delete 'Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes'
            cand proxy-status 'Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy''s reason)'
            cand top 'Live request rate, success rate and latency per service and version, straight from the proxies'
            cand trace 'Recent traces through the mesh, slowest first, each as a waterfall of its spans with the one that spent the most time itself marked'
            cand dashboard 'Serve a page of the mesh: the service graph with each call''s rate, success and p99, charts by version, traces and configuration findings. From this binary, offline'
            cand canary 'Stepped rollouts with health gates: start, watch, steer'
            cand mtls 'Mutual TLS between workloads: require it, see what every sidecar accepts, rotate certificates'
            cand check 'Say whether the control plane, the gateway and every sidecar are healthy'
            cand demo 'Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that cluster''s installed mesh, in a namespace of its own'
            cand demo-app 'The demo application that the demo mesh and tests run as workloads'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;validate'= {
            cand -f 'A file, a directory (read recursively for *.yaml, *.yml and *.json) or `-` for stdin'
            cand --filename 'A file, a directory (read recursively for *.yaml, *.yml and *.json) or `-` for stdin'
            cand -n 'The namespace of resources that do not name one'
            cand --namespace 'The namespace of resources that do not name one'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --strict 'Fail (exit 1) on warnings as well as errors'
            cand --reject-unknown 'Report kinds meshctl does not handle as errors instead of skipping them'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand traffic-split 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute'
            cand circuit-breaker 'A DestinationRule that ejects failing instances and bounds the connection pool'
            cand mtls 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given'
            cand authz 'An AuthorizationPolicy allowing (or denying) callers by service account'
            cand jwt 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token'
            cand canary 'A Canary rolling a service out from one subset to another in steps, with health gates'
            cand crds 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;generate;traffic-split'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --subset 'A subset and its weight in percent; the weights must add up to 100'
            cand --label 'The workload label whose value names the subset'
            cand --port 'Split only the traffic to this port of the service (e.g. its gRPC port)'
            cand --api 'The API to write the split in. With `gateway`, an HTTPRoute sends each subset''s share to the Service SERVICE-NAME, on --port (80 when not given)'
            cand --output-file 'Write to this file instead of stdout'
            cand --tcp 'Split connections to a TCP port (a VirtualService `tcp` rule) instead of requests'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;circuit-breaker'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --consecutive-errors 'Consecutive 5xx responses that eject an instance'
            cand --interval 'How often instances are checked for ejection'
            cand --ejection-time 'How long an ejected instance stays out (it grows with each ejection)'
            cand --max-ejection-percent 'The largest share of instances that may be ejected at once'
            cand --max-connections 'The most TCP connections to the service, from each caller'
            cand --max-pending 'The most requests waiting for a connection; more are answered 503 at once'
            cand --subset 'A subset the rule defines (repeat for each): applied, the rule replaces the service''s DestinationRule, so it must keep the subsets its routes use'
            cand --label 'The workload label whose value names a subset'
            cand --output-file 'Write to this file instead of stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;mtls'= {
            cand -n 'The namespace; without it, the policy is mesh-wide (in istio-system)'
            cand --namespace 'The namespace; without it, the policy is mesh-wide (in istio-system)'
            cand --mode 'mode'
            cand --output-file 'Write to this file instead of stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;authz'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --allow-from 'Service accounts allowed to call (NAME in the same namespace, NAMESPACE/NAME, or *); everyone else is denied'
            cand --deny-from 'Service accounts denied (NAME, NAMESPACE/NAME, or * for every caller)'
            cand --methods 'Only these HTTP methods (comma-separated)'
            cand --paths 'Only these paths: exact, a prefix (/api/*) or a suffix (*.js)'
            cand --output-file 'Write to this file instead of stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;jwt'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --issuer 'The `iss` that tokens carry'
            cand --jwks-uri 'Where the issuer publishes its public keys'
            cand --jwks-file 'A JWKS file whose keys are put inline in the policy'
            cand --audience 'Accepted audiences (`aud`); any when none is given'
            cand --output-file 'Write to this file instead of stdout'
            cand --require 'Refuse requests that carry no token (403)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;canary'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --from 'The stable subset'
            cand --to 'The subset being rolled out'
            cand --steps 'Canary weights in percent, rising, ending at 100'
            cand --interval 'The least time spent at each step'
            cand --min-success-rate 'The lowest acceptable success rate of the canary, in percent'
            cand --max-p99 'The highest acceptable p99 latency of the canary'
            cand --min-requests 'Fewer canary requests than this in a step hold it instead of deciding it'
            cand --sequential-test 'Also roll a clearly failing canary back at once, by a sequential test on its error rate, rather than only when its step ends'
            cand --api 'The routes whose weights move. With `gateway`, --from and --to name two Services, whose weights move in the HTTPRoutes attached to SERVICE'
            cand --output-file 'Write to this file instead of stdout'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;crds'= {
            cand --output-file 'Write to this file instead of stdout'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;generate;help'= {
            cand traffic-split 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute'
            cand circuit-breaker 'A DestinationRule that ejects failing instances and bounds the connection pool'
            cand mtls 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given'
            cand authz 'An AuthorizationPolicy allowing (or denying) callers by service account'
            cand jwt 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token'
            cand canary 'A Canary rolling a service out from one subset to another in steps, with health gates'
            cand crds 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;generate;help;traffic-split'= {
        }
        &'meshctl;generate;help;circuit-breaker'= {
        }
        &'meshctl;generate;help;mtls'= {
        }
        &'meshctl;generate;help;authz'= {
        }
        &'meshctl;generate;help;jwt'= {
        }
        &'meshctl;generate;help;canary'= {
        }
        &'meshctl;generate;help;crds'= {
        }
        &'meshctl;generate;help;help'= {
        }
        &'meshctl;install'= {
            cand --gateway-port 'Where the ingress gateway listens, on 127.0.0.1'
            cand --cert-lifetime 'How long workload certificates live (2s to 366d); they are renewed at half-life'
            cand --timeout 'How long to wait for the mesh to be ready'
            cand --trace-sampling 'The percentage of requests that start a trace, 0 to 100 [default: 100 on the local mesh, 1 on a cluster]'
            cand --outbound-traffic-policy 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as Istio''s meshConfig.outboundTrafficPolicy.mode'
            cand --envoy 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --image 'The meshctl image the controller runs'
            cand --envoy-image 'The Envoy image the ingress gateway runs'
            cand --gateway-service-type 'The type of the ingress gateway''s Service, and of each Gateway''s (unless its annotation networking.istio.io/service-type says otherwise)'
            cand --proxy-cpu-request 'The CPU each proxy (sidecar or gateway) requests, unless a Pod''s annotation sidecar.meshctl.io/proxyCPU says otherwise: lower it on a small node that runs many Pods'
            cand -o 'With --dry-run, print the objects themselves, exactly as they would be applied'
            cand --output 'With --dry-run, print the objects themselves, exactly as they would be applied'
            cand --local 'Run the mesh on this machine instead of a cluster'
            cand --dry-run 'Say what would be applied, and change nothing (the cluster is only read: which CRDs are Istio''s, whether the mesh CA exists)'
            cand --wait 'Wait until the CRDs are Established and the Deployments Available (see --timeout)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;uninstall'= {
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --local 'Stop the mesh on this machine instead of removing it from a cluster'
            cand --purge 'Also delete what outlives an uninstall: the state directory (resources, logs) with --local; on a cluster, the CRDs (with every policy stored in them) and the mesh CA'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;controller'= {
            cand --gateway-port 'Where the ingress gateway listens, on 127.0.0.1 (0 picks a free port)'
            cand --cert-lifetime 'How long workload certificates live (2s to 366d); they are renewed at half-life'
            cand --resync-period 'How often the local mesh looks at its processes (exits, moved ports). A store change, a proxy''s ACK or a certificate falling due wakes the controller at once; a cluster''s controller is woken by its watches and has no period'
            cand --trace-sampling 'The percentage of requests that start a trace, 0 to 100 [default: 100 with --local, 1 with --kubernetes]'
            cand --outbound-traffic-policy 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP)'
            cand --envoy 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --xds-address 'Where proxies reach the xDS server (over TLS)'
            cand --status-address 'Where the status (`/debug/status`, `/debug/tls`, `/debug/traces`) is served: the Pod''s loopback, which only a caller allowed to port-forward to the Pod reaches'
            cand --webhook-address 'Where the sidecar injector (the admission webhook) is served, over TLS'
            cand --serving-cert-lifetime 'How long the certificate the controller serves xDS with lives; it is renewed at half its life, and proxies take the new one as they reconnect'
            cand --max-stream-age 'How long a proxy''s xDS stream lives before it is closed, so that the proxy reconnects and proves its identity again with its current token (as Istio''s 30 minutes)'
            cand --init-image 'The image of the injected init container that sets up traffic capture (meshctl''s)'
            cand --proxy-image 'The image of the injected sidecar (Envoy)'
            cand --gateway-service-type 'The type of the Services of the Gateway API''s Gateways'' proxies (a Gateway''s annotation networking.istio.io/service-type chooses for itself)'
            cand --proxy-cpu-request 'The CPU each injected sidecar and each Gateway''s proxy requests, unless a Pod''s annotation says'
            cand --system-namespace 'The namespace meshctl was installed in (its CA Secret''s and the leader''s Lease''s)'
            cand --lease-duration 'How long the leader keeps the Lease without renewing it: how long another replica waits to take over when the leader dies'
            cand --local 'Run the local mesh''s control plane: its workloads, sidecars and gateway as processes on this machine'
            cand --kubernetes 'Run a cluster''s control plane: Services, EndpointSlices and Pods from the API server, with the Pod''s ServiceAccount or --kubeconfig'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;inject'= {
            cand -f 'Manifests to inject: files, directories, or - for stdin. Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the sidecar; every other object is printed unchanged'
            cand --filename 'Manifests to inject: files, directories, or - for stdin. Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the sidecar; every other object is printed unchanged'
            cand --image 'The meshctl image of the capture init container (install''s --image)'
            cand --envoy-image 'The Envoy image of the sidecar (install''s --envoy-image)'
            cand --proxy-cpu-request 'The CPU the sidecar requests unless the Pod''s annotation says (install''s --proxy-cpu-request)'
            cand -o 'o'
            cand --output 'output'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;capture'= {
            cand --outbound-port 'Where outbound TCP goes: the proxy''s outbound capture port'
            cand --inbound-port 'Where inbound TCP goes: the proxy''s inbound capture port'
            cand --proxy-uid 'The proxy''s user, whose own connections are never captured'
            cand --exclude-inbound-ports 'exclude-inbound-ports'
            cand --exclude-outbound-ports 'exclude-outbound-ports'
            cand --exclude-outbound-ranges 'exclude-outbound-ranges'
            cand --dry-run 'Print the rules instead of writing them'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;apply'= {
            cand -f 'A file, a directory or `-` for stdin, as for `meshctl validate`'
            cand --filename 'A file, a directory or `-` for stdin, as for `meshctl validate`'
            cand -n 'The namespace of resources that do not name one'
            cand --namespace 'The namespace of resources that do not name one'
            cand --timeout 'With --wait, how long to wait before giving up (exit 3)'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --dry-run 'Validate and report what would change, but write nothing'
            cand --wait 'Return only when every proxy has ACKed the configuration the change makes'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;analyze'= {
            cand -f 'Files to analyze as if they were applied: a file, a directory or `-` for stdin'
            cand --filename 'Files to analyze as if they were applied: a file, a directory or `-` for stdin'
            cand -n 'Report on this namespace (and the namespace of resources in files that name none). With -f, findings in every namespace are reported: what the files would break, wherever'
            cand --namespace 'Report on this namespace (and the namespace of resources in files that name none). With -f, findings in every namespace are reported: what the files would break, wherever'
            cand -o 'Output format'
            cand --output 'Output format'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -A 'Report on every namespace'
            cand --all-namespaces 'Report on every namespace'
            cand --strict 'Fail (exit 1) on warnings as well as errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;get'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -l 'Only objects whose labels match: `k=v`, `k!=v`, `k` (has the label), `!k` (has not), joined by commas, all of which must hold'
            cand --selector 'Only objects whose labels match: `k=v`, `k!=v`, `k` (has the label), `!k` (has not), joined by commas, all of which must hold'
            cand -o 'A table (wide: more columns), the objects whole (json, yaml, a List for several), or their names as `KIND.GROUP/NAME` lines for scripts (name)'
            cand --output 'A table (wide: more columns), the objects whole (json, yaml, a List for several), or their names as `KIND.GROUP/NAME` lines for scripts (name)'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -A 'Across all namespaces'
            cand --all-namespaces 'Across all namespaces'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;delete'= {
            cand -f 'Delete the objects a file (or directory, or `-`) describes'
            cand --filename 'Delete the objects a file (or directory, or `-`) describes'
            cand -n 'n'
            cand --namespace 'namespace'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;proxy-status'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;top'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --interval 'The window: time between the two scrapes each figure is computed from'
            cand --by 'One row per service and version, per workload instance, or per route'
            cand --sort 'sort'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -A 'Across all namespaces'
            cand --all-namespaces 'Across all namespaces'
            cand --outbound 'Also show what callers saw (outbound), besides what workloads served (inbound)'
            cand --once 'Print one window and exit'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;trace'= {
            cand -n 'The service''s namespace'
            cand --namespace 'The service''s namespace'
            cand --min-duration 'Only traces at least this long (`500ms`, `1s`)'
            cand --limit 'At most this many traces, slowest first'
            cand --id 'Only the trace of this id (32 hex digits, as a `traceparent` or `x-b3-traceid` header carried it)'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;dashboard'= {
            cand --port 'The port to serve on (0 picks a free one)'
            cand --address 'The address to serve on: the page shows the mesh''s traffic and configuration, so only this machine by default'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --open 'Open the page in the default browser'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand start 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends'
            cand status 'Where a rollout stands, with every gate evaluation'
            cand list 'Every rollout'
            cand promote 'Send all traffic to the canary now, skipping the remaining steps'
            cand pause 'Hold the rollout at its current weight'
            cand resume 'Continue a paused rollout'
            cand abort 'Send all traffic back to stable now'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;canary;start'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand --to 'The subset being rolled out (with --api gateway, the Service)'
            cand --from 'The stable subset, or Service [default: the one the service''s routes send most traffic to]'
            cand --steps 'Canary weights in percent, rising, ending at 100'
            cand --interval 'The least time spent at each step'
            cand --min-success-rate 'The lowest acceptable success rate of the canary, in percent'
            cand --max-p99 'The highest acceptable p99 latency of the canary'
            cand --min-requests 'Fewer canary requests than this in a step hold it instead of deciding it'
            cand --sequential-test 'Also roll a clearly failing canary back at once, by a sequential test on its error rate, rather than only when its step ends'
            cand --api 'The routes whose weights move. With `gateway`, --from and --to name two Services, whose weights move in the HTTPRoutes attached to SERVICE'
            cand --timeout 'The longest to watch'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --no-wait 'Return once the rollout is stored, without watching it'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;status'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;list'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -o 'As for `get`: a table, or each Canary whole (json, yaml), or their names'
            cand --output 'As for `get`: a table, or each Canary whole (json, yaml), or their names'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -A 'A'
            cand --all-namespaces 'all-namespaces'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;promote'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;pause'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;resume'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;abort'= {
            cand -n 'n'
            cand --namespace 'namespace'
            cand -o 'o'
            cand --output 'output'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;canary;help'= {
            cand start 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends'
            cand status 'Where a rollout stands, with every gate evaluation'
            cand list 'Every rollout'
            cand promote 'Send all traffic to the canary now, skipping the remaining steps'
            cand pause 'Hold the rollout at its current weight'
            cand resume 'Continue a paused rollout'
            cand abort 'Send all traffic back to stable now'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;canary;help;start'= {
        }
        &'meshctl;canary;help;status'= {
        }
        &'meshctl;canary;help;list'= {
        }
        &'meshctl;canary;help;promote'= {
        }
        &'meshctl;canary;help;pause'= {
        }
        &'meshctl;canary;help;resume'= {
        }
        &'meshctl;canary;help;abort'= {
        }
        &'meshctl;canary;help;help'= {
        }
        &'meshctl;mtls'= {
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand enable 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it'
            cand disable 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE'
            cand status 'Every workload''s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation'
            cand rotate 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;mtls;enable'= {
            cand -n 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)'
            cand --namespace 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)'
            cand --timeout 'How long to wait for the proxies'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --mode 'STRICT accepts mTLS only; PERMISSIVE accepts mTLS and plaintext (a step on the way)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;mtls;disable'= {
            cand -n 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)'
            cand --namespace 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)'
            cand --timeout 'How long to wait for the proxies'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;mtls;status'= {
            cand -o 'Output format'
            cand --output 'Output format'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;mtls;rotate'= {
            cand --timeout 'How long to wait for the proxies'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --root 'Rotate the root as well: a new root is trusted everywhere before it signs, and the old one is dropped once no proxy holds a certificate from it'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;mtls;help'= {
            cand enable 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it'
            cand disable 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE'
            cand status 'Every workload''s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation'
            cand rotate 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;mtls;help;enable'= {
        }
        &'meshctl;mtls;help;disable'= {
        }
        &'meshctl;mtls;help;status'= {
        }
        &'meshctl;mtls;help;rotate'= {
        }
        &'meshctl;mtls;help;help'= {
        }
        &'meshctl;check'= {
            cand -o 'Print the result for programs: `{"healthy": bool, "checks": [{"ok": bool, "message": string}]}`, one check per line of the text; the exit status is the same'
            cand --output 'Print the result for programs: `{"healthy": bool, "checks": [{"ok": bool, "message": string}]}`, one check per line of the text; the exit status is the same'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand --pre 'Before `meshctl install`: whether the cluster can take the mesh (its API answers, it runs Kubernetes 1.29 or later, you may apply what install applies, and Istio''s control plane is not running there)'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;demo'= {
            cand --gateway-port 'Where the ingress gateway listens, on 127.0.0.1'
            cand --cert-lifetime 'How long workload certificates live (2s to 366d); they are renewed at half-life'
            cand --timeout 'How long to wait for the mesh to be ready'
            cand --trace-sampling 'The percentage of requests that start a trace, 0 to 100 [default: 100 on the local mesh, 1 on a cluster]'
            cand --outbound-traffic-policy 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as Istio''s meshConfig.outboundTrafficPolicy.mode'
            cand --envoy 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]'
            cand --state-dir 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]'
            cand --kubeconfig 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]'
            cand --context 'The kubeconfig context to use [default: its current context]'
            cand -n 'On a cluster, the namespace the demo''s workloads run in (made, and labelled for injection)'
            cand --namespace 'On a cluster, the namespace the demo''s workloads run in (made, and labelled for injection)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;demo-app'= {
            cand --name 'The service name it answers with'
            cand --version 'The version it answers with'
            cand --latency 'Added to every answer'
            cand --error-rate 'Percent of requests answered 503 (spread evenly)'
            cand --call 'A service to call on every request, as HOST[:PORT][/PATH], through the sidecar'
            cand --generate 'Send requests to this service by itself (HOST[:PORT][/PATH]), through the sidecar; `grpc://HOST:PORT` calls the demo gRPC method instead'
            cand --rate 'Requests per second for --generate'
            cand --gateway 'The mesh''s ingress gateway, HOST:PORT (the local mesh tells every workload; on a cluster, its Service)'
            cand --port 'The port to listen on'
            cand --tcp-port 'Also serve a TCP port: each connection is greeted with `SERVICE VERSION` and its bytes echoed. The mesh gives a Workload port named `tcp` in `PORT_TCP`'
            cand --grpc-port 'Also serve the demo gRPC method (`meshctl.demo.Demo/Hello`, over h2c) with the same latency and error rate; failures are UNAVAILABLE. A Workload port named `grpc` is in `PORT_GRPC`'
            cand --address 'The address to listen on: 0.0.0.0 in a Pod, which is reached on its own IP'
            cand --outbound 'The sidecar''s outbound listener, which the local mesh tells every workload; without it, calls go to their hosts by name, as in a Pod whose sidecar captures them'
            cand --via-gateway 'Send --generate''s requests to the mesh''s ingress gateway instead, as clients outside the mesh do'
            cand --echo 'Also answer with the request as it arrived: its path (and query), and its headers, to see what routes rewrote'
            cand -h 'Print help'
            cand --help 'Print help'
        }
        &'meshctl;completion'= {
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'meshctl;help'= {
            cand validate 'Check policy files offline: schema, references between resources, mTLS and JWT settings'
            cand generate 'Print policy YAML for a common intent; every document passes `meshctl validate`'
            cand install 'Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane, ingress gateway, mesh CA), or with --local start one on this machine: the controller in the background, which runs the workloads, their sidecars and the ingress gateway'
            cand uninstall 'Remove what `install` made from the cluster, or with --local stop the local mesh and every process it started'
            cand controller 'Run the control plane in the foreground (what `install` starts in the background)'
            cand inject 'Add the mesh''s sidecar to the Pods of manifests, as the cluster''s webhook does when a Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without the webhook, or to see what it adds). Prints the manifests'
            cand capture 'Set up traffic capture in this network namespace (the injected init container)'
            cand apply 'Validate resources and store them in the mesh; with an error, nothing is stored'
            cand analyze 'Find what is wrong with the running mesh: every validation rule over its stored policy (with files given by -f as if applied), and what only the running mesh shows'
            cand get 'List resources of one kind or several (`vs,dr`), or show some by name'
            cand delete 'Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes'
            cand proxy-status 'Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy''s reason)'
            cand top 'Live request rate, success rate and latency per service and version, straight from the proxies'
            cand trace 'Recent traces through the mesh, slowest first, each as a waterfall of its spans with the one that spent the most time itself marked'
            cand dashboard 'Serve a page of the mesh: the service graph with each call''s rate, success and p99, charts by version, traces and configuration findings. From this binary, offline'
            cand canary 'Stepped rollouts with health gates: start, watch, steer'
            cand mtls 'Mutual TLS between workloads: require it, see what every sidecar accepts, rotate certificates'
            cand check 'Say whether the control plane, the gateway and every sidecar are healthy'
            cand demo 'Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that cluster''s installed mesh, in a namespace of its own'
            cand demo-app 'The demo application that the demo mesh and tests run as workloads'
            cand completion 'Print a shell completion script'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'meshctl;help;validate'= {
        }
        &'meshctl;help;generate'= {
            cand traffic-split 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute'
            cand circuit-breaker 'A DestinationRule that ejects failing instances and bounds the connection pool'
            cand mtls 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given'
            cand authz 'An AuthorizationPolicy allowing (or denying) callers by service account'
            cand jwt 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token'
            cand canary 'A Canary rolling a service out from one subset to another in steps, with health gates'
            cand crds 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`'
        }
        &'meshctl;help;generate;traffic-split'= {
        }
        &'meshctl;help;generate;circuit-breaker'= {
        }
        &'meshctl;help;generate;mtls'= {
        }
        &'meshctl;help;generate;authz'= {
        }
        &'meshctl;help;generate;jwt'= {
        }
        &'meshctl;help;generate;canary'= {
        }
        &'meshctl;help;generate;crds'= {
        }
        &'meshctl;help;install'= {
        }
        &'meshctl;help;uninstall'= {
        }
        &'meshctl;help;controller'= {
        }
        &'meshctl;help;inject'= {
        }
        &'meshctl;help;capture'= {
        }
        &'meshctl;help;apply'= {
        }
        &'meshctl;help;analyze'= {
        }
        &'meshctl;help;get'= {
        }
        &'meshctl;help;delete'= {
        }
        &'meshctl;help;proxy-status'= {
        }
        &'meshctl;help;top'= {
        }
        &'meshctl;help;trace'= {
        }
        &'meshctl;help;dashboard'= {
        }
        &'meshctl;help;canary'= {
            cand start 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends'
            cand status 'Where a rollout stands, with every gate evaluation'
            cand list 'Every rollout'
            cand promote 'Send all traffic to the canary now, skipping the remaining steps'
            cand pause 'Hold the rollout at its current weight'
            cand resume 'Continue a paused rollout'
            cand abort 'Send all traffic back to stable now'
        }
        &'meshctl;help;canary;start'= {
        }
        &'meshctl;help;canary;status'= {
        }
        &'meshctl;help;canary;list'= {
        }
        &'meshctl;help;canary;promote'= {
        }
        &'meshctl;help;canary;pause'= {
        }
        &'meshctl;help;canary;resume'= {
        }
        &'meshctl;help;canary;abort'= {
        }
        &'meshctl;help;mtls'= {
            cand enable 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it'
            cand disable 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE'
            cand status 'Every workload''s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation'
            cand rotate 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one'
        }
        &'meshctl;help;mtls;enable'= {
        }
        &'meshctl;help;mtls;disable'= {
        }
        &'meshctl;help;mtls;status'= {
        }
        &'meshctl;help;mtls;rotate'= {
        }
        &'meshctl;help;check'= {
        }
        &'meshctl;help;demo'= {
        }
        &'meshctl;help;demo-app'= {
        }
        &'meshctl;help;completion'= {
        }
        &'meshctl;help;help'= {
        }
    ]
    $completions[$command]
}
