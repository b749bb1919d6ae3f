
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'meshctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'meshctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'meshctl' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check policy files offline: schema, references between resources, mTLS and JWT settings')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Print policy YAML for a common intent; every document passes `meshctl validate`')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane, ingress gateway, mesh CA), or with --local start one on this machine: the controller in the background, which runs the workloads, their sidecars and the ingress gateway')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `install` made from the cluster, or with --local stop the local mesh and every process it started')
            [CompletionResult]::new('controller', 'controller', [CompletionResultType]::ParameterValue, 'Run the control plane in the foreground (what `install` starts in the background)')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Add the mesh''s sidecar to the Pods of manifests, as the cluster''s webhook does when a Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without the webhook, or to see what it adds). Prints the manifests')
            [CompletionResult]::new('capture', 'capture', [CompletionResultType]::ParameterValue, 'Set up traffic capture in this network namespace (the injected init container)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Validate resources and store them in the mesh; with an error, nothing is stored')
            [CompletionResult]::new('analyze', 'analyze', [CompletionResultType]::ParameterValue, 'Find what is wrong with the running mesh: every validation rule over its stored policy (with files given by -f as if applied), and what only the running mesh shows')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'List resources of one kind or several (`vs,dr`), or show some by name')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes')
            [CompletionResult]::new('proxy-status', 'proxy-status', [CompletionResultType]::ParameterValue, 'Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy''s reason)')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'Live request rate, success rate and latency per service and version, straight from the proxies')
            [CompletionResult]::new('trace', 'trace', [CompletionResultType]::ParameterValue, 'Recent traces through the mesh, slowest first, each as a waterfall of its spans with the one that spent the most time itself marked')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'Serve a page of the mesh: the service graph with each call''s rate, success and p99, charts by version, traces and configuration findings. From this binary, offline')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'Stepped rollouts with health gates: start, watch, steer')
            [CompletionResult]::new('mtls', 'mtls', [CompletionResultType]::ParameterValue, 'Mutual TLS between workloads: require it, see what every sidecar accepts, rotate certificates')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Say whether the control plane, the gateway and every sidecar are healthy')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that cluster''s installed mesh, in a namespace of its own')
            [CompletionResult]::new('demo-app', 'demo-app', [CompletionResultType]::ParameterValue, 'The demo application that the demo mesh and tests run as workloads')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;validate' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'A file, a directory (read recursively for *.yaml, *.yml and *.json) or `-` for stdin')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'A file, a directory (read recursively for *.yaml, *.yml and *.json) or `-` for stdin')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace of resources that do not name one')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace of resources that do not name one')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail (exit 1) on warnings as well as errors')
            [CompletionResult]::new('--reject-unknown', '--reject-unknown', [CompletionResultType]::ParameterName, 'Report kinds meshctl does not handle as errors instead of skipping them')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('traffic-split', 'traffic-split', [CompletionResultType]::ParameterValue, 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute')
            [CompletionResult]::new('circuit-breaker', 'circuit-breaker', [CompletionResultType]::ParameterValue, 'A DestinationRule that ejects failing instances and bounds the connection pool')
            [CompletionResult]::new('mtls', 'mtls', [CompletionResultType]::ParameterValue, 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given')
            [CompletionResult]::new('authz', 'authz', [CompletionResultType]::ParameterValue, 'An AuthorizationPolicy allowing (or denying) callers by service account')
            [CompletionResult]::new('jwt', 'jwt', [CompletionResultType]::ParameterValue, 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'A Canary rolling a service out from one subset to another in steps, with health gates')
            [CompletionResult]::new('crds', 'crds', [CompletionResultType]::ParameterValue, 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;generate;traffic-split' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--subset', '--subset', [CompletionResultType]::ParameterName, 'A subset and its weight in percent; the weights must add up to 100')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'The workload label whose value names the subset')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'Split only the traffic to this port of the service (e.g. its gRPC port)')
            [CompletionResult]::new('--api', '--api', [CompletionResultType]::ParameterName, 'The API to write the split in. With `gateway`, an HTTPRoute sends each subset''s share to the Service SERVICE-NAME, on --port (80 when not given)')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('--tcp', '--tcp', [CompletionResultType]::ParameterName, 'Split connections to a TCP port (a VirtualService `tcp` rule) instead of requests')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;circuit-breaker' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--consecutive-errors', '--consecutive-errors', [CompletionResultType]::ParameterName, 'Consecutive 5xx responses that eject an instance')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'How often instances are checked for ejection')
            [CompletionResult]::new('--ejection-time', '--ejection-time', [CompletionResultType]::ParameterName, 'How long an ejected instance stays out (it grows with each ejection)')
            [CompletionResult]::new('--max-ejection-percent', '--max-ejection-percent', [CompletionResultType]::ParameterName, 'The largest share of instances that may be ejected at once')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'The most TCP connections to the service, from each caller')
            [CompletionResult]::new('--max-pending', '--max-pending', [CompletionResultType]::ParameterName, 'The most requests waiting for a connection; more are answered 503 at once')
            [CompletionResult]::new('--subset', '--subset', [CompletionResultType]::ParameterName, 'A subset the rule defines (repeat for each): applied, the rule replaces the service''s DestinationRule, so it must keep the subsets its routes use')
            [CompletionResult]::new('--label', '--label', [CompletionResultType]::ParameterName, 'The workload label whose value names a subset')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;mtls' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace; without it, the policy is mesh-wide (in istio-system)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace; without it, the policy is mesh-wide (in istio-system)')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'mode')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;authz' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--allow-from', '--allow-from', [CompletionResultType]::ParameterName, 'Service accounts allowed to call (NAME in the same namespace, NAMESPACE/NAME, or *); everyone else is denied')
            [CompletionResult]::new('--deny-from', '--deny-from', [CompletionResultType]::ParameterName, 'Service accounts denied (NAME, NAMESPACE/NAME, or * for every caller)')
            [CompletionResult]::new('--methods', '--methods', [CompletionResultType]::ParameterName, 'Only these HTTP methods (comma-separated)')
            [CompletionResult]::new('--paths', '--paths', [CompletionResultType]::ParameterName, 'Only these paths: exact, a prefix (/api/*) or a suffix (*.js)')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;jwt' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--issuer', '--issuer', [CompletionResultType]::ParameterName, 'The `iss` that tokens carry')
            [CompletionResult]::new('--jwks-uri', '--jwks-uri', [CompletionResultType]::ParameterName, 'Where the issuer publishes its public keys')
            [CompletionResult]::new('--jwks-file', '--jwks-file', [CompletionResultType]::ParameterName, 'A JWKS file whose keys are put inline in the policy')
            [CompletionResult]::new('--audience', '--audience', [CompletionResultType]::ParameterName, 'Accepted audiences (`aud`); any when none is given')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('--require', '--require', [CompletionResultType]::ParameterName, 'Refuse requests that carry no token (403)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;canary' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The stable subset')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The subset being rolled out')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'Canary weights in percent, rising, ending at 100')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'The least time spent at each step')
            [CompletionResult]::new('--min-success-rate', '--min-success-rate', [CompletionResultType]::ParameterName, 'The lowest acceptable success rate of the canary, in percent')
            [CompletionResult]::new('--max-p99', '--max-p99', [CompletionResultType]::ParameterName, 'The highest acceptable p99 latency of the canary')
            [CompletionResult]::new('--min-requests', '--min-requests', [CompletionResultType]::ParameterName, 'Fewer canary requests than this in a step hold it instead of deciding it')
            [CompletionResult]::new('--sequential-test', '--sequential-test', [CompletionResultType]::ParameterName, 'Also roll a clearly failing canary back at once, by a sequential test on its error rate, rather than only when its step ends')
            [CompletionResult]::new('--api', '--api', [CompletionResultType]::ParameterName, 'The routes whose weights move. With `gateway`, --from and --to name two Services, whose weights move in the HTTPRoutes attached to SERVICE')
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;crds' {
            [CompletionResult]::new('--output-file', '--output-file', [CompletionResultType]::ParameterName, 'Write to this file instead of stdout')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;generate;help' {
            [CompletionResult]::new('traffic-split', 'traffic-split', [CompletionResultType]::ParameterValue, 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute')
            [CompletionResult]::new('circuit-breaker', 'circuit-breaker', [CompletionResultType]::ParameterValue, 'A DestinationRule that ejects failing instances and bounds the connection pool')
            [CompletionResult]::new('mtls', 'mtls', [CompletionResultType]::ParameterValue, 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given')
            [CompletionResult]::new('authz', 'authz', [CompletionResultType]::ParameterValue, 'An AuthorizationPolicy allowing (or denying) callers by service account')
            [CompletionResult]::new('jwt', 'jwt', [CompletionResultType]::ParameterValue, 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'A Canary rolling a service out from one subset to another in steps, with health gates')
            [CompletionResult]::new('crds', 'crds', [CompletionResultType]::ParameterValue, 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;generate;help;traffic-split' {
            break
        }
        'meshctl;generate;help;circuit-breaker' {
            break
        }
        'meshctl;generate;help;mtls' {
            break
        }
        'meshctl;generate;help;authz' {
            break
        }
        'meshctl;generate;help;jwt' {
            break
        }
        'meshctl;generate;help;canary' {
            break
        }
        'meshctl;generate;help;crds' {
            break
        }
        'meshctl;generate;help;help' {
            break
        }
        'meshctl;install' {
            [CompletionResult]::new('--gateway-port', '--gateway-port', [CompletionResultType]::ParameterName, 'Where the ingress gateway listens, on 127.0.0.1')
            [CompletionResult]::new('--cert-lifetime', '--cert-lifetime', [CompletionResultType]::ParameterName, 'How long workload certificates live (2s to 366d); they are renewed at half-life')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the mesh to be ready')
            [CompletionResult]::new('--trace-sampling', '--trace-sampling', [CompletionResultType]::ParameterName, 'The percentage of requests that start a trace, 0 to 100 [default: 100 on the local mesh, 1 on a cluster]')
            [CompletionResult]::new('--outbound-traffic-policy', '--outbound-traffic-policy', [CompletionResultType]::ParameterName, 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as Istio''s meshConfig.outboundTrafficPolicy.mode')
            [CompletionResult]::new('--envoy', '--envoy', [CompletionResultType]::ParameterName, 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'The meshctl image the controller runs')
            [CompletionResult]::new('--envoy-image', '--envoy-image', [CompletionResultType]::ParameterName, 'The Envoy image the ingress gateway runs')
            [CompletionResult]::new('--gateway-service-type', '--gateway-service-type', [CompletionResultType]::ParameterName, 'The type of the ingress gateway''s Service, and of each Gateway''s (unless its annotation networking.istio.io/service-type says otherwise)')
            [CompletionResult]::new('--proxy-cpu-request', '--proxy-cpu-request', [CompletionResultType]::ParameterName, 'The CPU each proxy (sidecar or gateway) requests, unless a Pod''s annotation sidecar.meshctl.io/proxyCPU says otherwise: lower it on a small node that runs many Pods')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'With --dry-run, print the objects themselves, exactly as they would be applied')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'With --dry-run, print the objects themselves, exactly as they would be applied')
            [CompletionResult]::new('--local', '--local', [CompletionResultType]::ParameterName, 'Run the mesh on this machine instead of a cluster')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Say what would be applied, and change nothing (the cluster is only read: which CRDs are Istio''s, whether the mesh CA exists)')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Wait until the CRDs are Established and the Deployments Available (see --timeout)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;uninstall' {
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--local', '--local', [CompletionResultType]::ParameterName, 'Stop the mesh on this machine instead of removing it from a cluster')
            [CompletionResult]::new('--purge', '--purge', [CompletionResultType]::ParameterName, 'Also delete what outlives an uninstall: the state directory (resources, logs) with --local; on a cluster, the CRDs (with every policy stored in them) and the mesh CA')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;controller' {
            [CompletionResult]::new('--gateway-port', '--gateway-port', [CompletionResultType]::ParameterName, 'Where the ingress gateway listens, on 127.0.0.1 (0 picks a free port)')
            [CompletionResult]::new('--cert-lifetime', '--cert-lifetime', [CompletionResultType]::ParameterName, 'How long workload certificates live (2s to 366d); they are renewed at half-life')
            [CompletionResult]::new('--resync-period', '--resync-period', [CompletionResultType]::ParameterName, 'How often the local mesh looks at its processes (exits, moved ports). A store change, a proxy''s ACK or a certificate falling due wakes the controller at once; a cluster''s controller is woken by its watches and has no period')
            [CompletionResult]::new('--trace-sampling', '--trace-sampling', [CompletionResultType]::ParameterName, 'The percentage of requests that start a trace, 0 to 100 [default: 100 with --local, 1 with --kubernetes]')
            [CompletionResult]::new('--outbound-traffic-policy', '--outbound-traffic-policy', [CompletionResultType]::ParameterName, 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP)')
            [CompletionResult]::new('--envoy', '--envoy', [CompletionResultType]::ParameterName, 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--xds-address', '--xds-address', [CompletionResultType]::ParameterName, 'Where proxies reach the xDS server (over TLS)')
            [CompletionResult]::new('--status-address', '--status-address', [CompletionResultType]::ParameterName, 'Where the status (`/debug/status`, `/debug/tls`, `/debug/traces`) is served: the Pod''s loopback, which only a caller allowed to port-forward to the Pod reaches')
            [CompletionResult]::new('--webhook-address', '--webhook-address', [CompletionResultType]::ParameterName, 'Where the sidecar injector (the admission webhook) is served, over TLS')
            [CompletionResult]::new('--serving-cert-lifetime', '--serving-cert-lifetime', [CompletionResultType]::ParameterName, 'How long the certificate the controller serves xDS with lives; it is renewed at half its life, and proxies take the new one as they reconnect')
            [CompletionResult]::new('--max-stream-age', '--max-stream-age', [CompletionResultType]::ParameterName, 'How long a proxy''s xDS stream lives before it is closed, so that the proxy reconnects and proves its identity again with its current token (as Istio''s 30 minutes)')
            [CompletionResult]::new('--init-image', '--init-image', [CompletionResultType]::ParameterName, 'The image of the injected init container that sets up traffic capture (meshctl''s)')
            [CompletionResult]::new('--proxy-image', '--proxy-image', [CompletionResultType]::ParameterName, 'The image of the injected sidecar (Envoy)')
            [CompletionResult]::new('--gateway-service-type', '--gateway-service-type', [CompletionResultType]::ParameterName, 'The type of the Services of the Gateway API''s Gateways'' proxies (a Gateway''s annotation networking.istio.io/service-type chooses for itself)')
            [CompletionResult]::new('--proxy-cpu-request', '--proxy-cpu-request', [CompletionResultType]::ParameterName, 'The CPU each injected sidecar and each Gateway''s proxy requests, unless a Pod''s annotation says')
            [CompletionResult]::new('--system-namespace', '--system-namespace', [CompletionResultType]::ParameterName, 'The namespace meshctl was installed in (its CA Secret''s and the leader''s Lease''s)')
            [CompletionResult]::new('--lease-duration', '--lease-duration', [CompletionResultType]::ParameterName, 'How long the leader keeps the Lease without renewing it: how long another replica waits to take over when the leader dies')
            [CompletionResult]::new('--local', '--local', [CompletionResultType]::ParameterName, 'Run the local mesh''s control plane: its workloads, sidecars and gateway as processes on this machine')
            [CompletionResult]::new('--kubernetes', '--kubernetes', [CompletionResultType]::ParameterName, 'Run a cluster''s control plane: Services, EndpointSlices and Pods from the API server, with the Pod''s ServiceAccount or --kubeconfig')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;inject' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Manifests to inject: files, directories, or - for stdin. Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the sidecar; every other object is printed unchanged')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Manifests to inject: files, directories, or - for stdin. Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the sidecar; every other object is printed unchanged')
            [CompletionResult]::new('--image', '--image', [CompletionResultType]::ParameterName, 'The meshctl image of the capture init container (install''s --image)')
            [CompletionResult]::new('--envoy-image', '--envoy-image', [CompletionResultType]::ParameterName, 'The Envoy image of the sidecar (install''s --envoy-image)')
            [CompletionResult]::new('--proxy-cpu-request', '--proxy-cpu-request', [CompletionResultType]::ParameterName, 'The CPU the sidecar requests unless the Pod''s annotation says (install''s --proxy-cpu-request)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;capture' {
            [CompletionResult]::new('--outbound-port', '--outbound-port', [CompletionResultType]::ParameterName, 'Where outbound TCP goes: the proxy''s outbound capture port')
            [CompletionResult]::new('--inbound-port', '--inbound-port', [CompletionResultType]::ParameterName, 'Where inbound TCP goes: the proxy''s inbound capture port')
            [CompletionResult]::new('--proxy-uid', '--proxy-uid', [CompletionResultType]::ParameterName, 'The proxy''s user, whose own connections are never captured')
            [CompletionResult]::new('--exclude-inbound-ports', '--exclude-inbound-ports', [CompletionResultType]::ParameterName, 'exclude-inbound-ports')
            [CompletionResult]::new('--exclude-outbound-ports', '--exclude-outbound-ports', [CompletionResultType]::ParameterName, 'exclude-outbound-ports')
            [CompletionResult]::new('--exclude-outbound-ranges', '--exclude-outbound-ranges', [CompletionResultType]::ParameterName, 'exclude-outbound-ranges')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Print the rules instead of writing them')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;apply' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'A file, a directory or `-` for stdin, as for `meshctl validate`')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'A file, a directory or `-` for stdin, as for `meshctl validate`')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace of resources that do not name one')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace of resources that do not name one')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'With --wait, how long to wait before giving up (exit 3)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Validate and report what would change, but write nothing')
            [CompletionResult]::new('--wait', '--wait', [CompletionResultType]::ParameterName, 'Return only when every proxy has ACKed the configuration the change makes')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;analyze' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Files to analyze as if they were applied: a file, a directory or `-` for stdin')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Files to analyze as if they were applied: a file, a directory or `-` for stdin')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'Report on this namespace (and the namespace of resources in files that name none). With -f, findings in every namespace are reported: what the files would break, wherever')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'Report on this namespace (and the namespace of resources in files that name none). With -f, findings in every namespace are reported: what the files would break, wherever')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Report on every namespace')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Report on every namespace')
            [CompletionResult]::new('--strict', '--strict', [CompletionResultType]::ParameterName, 'Fail (exit 1) on warnings as well as errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;get' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-l', '-l', [CompletionResultType]::ParameterName, 'Only objects whose labels match: `k=v`, `k!=v`, `k` (has the label), `!k` (has not), joined by commas, all of which must hold')
            [CompletionResult]::new('--selector', '--selector', [CompletionResultType]::ParameterName, 'Only objects whose labels match: `k=v`, `k!=v`, `k` (has the label), `!k` (has not), joined by commas, all of which must hold')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'A table (wide: more columns), the objects whole (json, yaml, a List for several), or their names as `KIND.GROUP/NAME` lines for scripts (name)')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'A table (wide: more columns), the objects whole (json, yaml, a List for several), or their names as `KIND.GROUP/NAME` lines for scripts (name)')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Across all namespaces')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Across all namespaces')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;delete' {
            [CompletionResult]::new('-f', '-f', [CompletionResultType]::ParameterName, 'Delete the objects a file (or directory, or `-`) describes')
            [CompletionResult]::new('--filename', '--filename', [CompletionResultType]::ParameterName, 'Delete the objects a file (or directory, or `-`) describes')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;proxy-status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;top' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'The window: time between the two scrapes each figure is computed from')
            [CompletionResult]::new('--by', '--by', [CompletionResultType]::ParameterName, 'One row per service and version, per workload instance, or per route')
            [CompletionResult]::new('--sort', '--sort', [CompletionResultType]::ParameterName, 'sort')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'Across all namespaces')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'Across all namespaces')
            [CompletionResult]::new('--outbound', '--outbound', [CompletionResultType]::ParameterName, 'Also show what callers saw (outbound), besides what workloads served (inbound)')
            [CompletionResult]::new('--once', '--once', [CompletionResultType]::ParameterName, 'Print one window and exit')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;trace' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The service''s namespace')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The service''s namespace')
            [CompletionResult]::new('--min-duration', '--min-duration', [CompletionResultType]::ParameterName, 'Only traces at least this long (`500ms`, `1s`)')
            [CompletionResult]::new('--limit', '--limit', [CompletionResultType]::ParameterName, 'At most this many traces, slowest first')
            [CompletionResult]::new('--id', '--id', [CompletionResultType]::ParameterName, 'Only the trace of this id (32 hex digits, as a `traceparent` or `x-b3-traceid` header carried it)')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;dashboard' {
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The port to serve on (0 picks a free one)')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The address to serve on: the page shows the mesh''s traffic and configuration, so only this machine by default')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--open', '--open', [CompletionResultType]::ParameterName, 'Open the page in the default browser')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where a rollout stands, with every gate evaluation')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every rollout')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Send all traffic to the canary now, skipping the remaining steps')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Hold the rollout at its current weight')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue a paused rollout')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send all traffic back to stable now')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;canary;start' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('--to', '--to', [CompletionResultType]::ParameterName, 'The subset being rolled out (with --api gateway, the Service)')
            [CompletionResult]::new('--from', '--from', [CompletionResultType]::ParameterName, 'The stable subset, or Service [default: the one the service''s routes send most traffic to]')
            [CompletionResult]::new('--steps', '--steps', [CompletionResultType]::ParameterName, 'Canary weights in percent, rising, ending at 100')
            [CompletionResult]::new('--interval', '--interval', [CompletionResultType]::ParameterName, 'The least time spent at each step')
            [CompletionResult]::new('--min-success-rate', '--min-success-rate', [CompletionResultType]::ParameterName, 'The lowest acceptable success rate of the canary, in percent')
            [CompletionResult]::new('--max-p99', '--max-p99', [CompletionResultType]::ParameterName, 'The highest acceptable p99 latency of the canary')
            [CompletionResult]::new('--min-requests', '--min-requests', [CompletionResultType]::ParameterName, 'Fewer canary requests than this in a step hold it instead of deciding it')
            [CompletionResult]::new('--sequential-test', '--sequential-test', [CompletionResultType]::ParameterName, 'Also roll a clearly failing canary back at once, by a sequential test on its error rate, rather than only when its step ends')
            [CompletionResult]::new('--api', '--api', [CompletionResultType]::ParameterName, 'The routes whose weights move. With `gateway`, --from and --to name two Services, whose weights move in the HTTPRoutes attached to SERVICE')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'The longest to watch')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--no-wait', '--no-wait', [CompletionResultType]::ParameterName, 'Return once the rollout is stored, without watching it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;status' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;list' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'As for `get`: a table, or each Canary whole (json, yaml), or their names')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'As for `get`: a table, or each Canary whole (json, yaml), or their names')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-A', '-A ', [CompletionResultType]::ParameterName, 'A')
            [CompletionResult]::new('--all-namespaces', '--all-namespaces', [CompletionResultType]::ParameterName, 'all-namespaces')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;promote' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;pause' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;resume' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;abort' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'n')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'namespace')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'o')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'output')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;canary;help' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where a rollout stands, with every gate evaluation')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every rollout')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Send all traffic to the canary now, skipping the remaining steps')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Hold the rollout at its current weight')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue a paused rollout')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send all traffic back to stable now')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;canary;help;start' {
            break
        }
        'meshctl;canary;help;status' {
            break
        }
        'meshctl;canary;help;list' {
            break
        }
        'meshctl;canary;help;promote' {
            break
        }
        'meshctl;canary;help;pause' {
            break
        }
        'meshctl;canary;help;resume' {
            break
        }
        'meshctl;canary;help;abort' {
            break
        }
        'meshctl;canary;help;help' {
            break
        }
        'meshctl;mtls' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Every workload''s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;mtls;enable' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the proxies')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--mode', '--mode', [CompletionResultType]::ParameterName, 'STRICT accepts mTLS only; PERMISSIVE accepts mTLS and plaintext (a step on the way)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;mtls;disable' {
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the proxies')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;mtls;status' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;mtls;rotate' {
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the proxies')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--root', '--root', [CompletionResultType]::ParameterName, 'Rotate the root as well: a new root is trusted everywhere before it signs, and the old one is dropped once no proxy holds a certificate from it')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;mtls;help' {
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Every workload''s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;mtls;help;enable' {
            break
        }
        'meshctl;mtls;help;disable' {
            break
        }
        'meshctl;mtls;help;status' {
            break
        }
        'meshctl;mtls;help;rotate' {
            break
        }
        'meshctl;mtls;help;help' {
            break
        }
        'meshctl;check' {
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Print the result for programs: `{"healthy": bool, "checks": [{"ok": bool, "message": string}]}`, one check per line of the text; the exit status is the same')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Print the result for programs: `{"healthy": bool, "checks": [{"ok": bool, "message": string}]}`, one check per line of the text; the exit status is the same')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('--pre', '--pre', [CompletionResultType]::ParameterName, 'Before `meshctl install`: whether the cluster can take the mesh (its API answers, it runs Kubernetes 1.29 or later, you may apply what install applies, and Istio''s control plane is not running there)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;demo' {
            [CompletionResult]::new('--gateway-port', '--gateway-port', [CompletionResultType]::ParameterName, 'Where the ingress gateway listens, on 127.0.0.1')
            [CompletionResult]::new('--cert-lifetime', '--cert-lifetime', [CompletionResultType]::ParameterName, 'How long workload certificates live (2s to 366d); they are renewed at half-life')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'How long to wait for the mesh to be ready')
            [CompletionResult]::new('--trace-sampling', '--trace-sampling', [CompletionResultType]::ParameterName, 'The percentage of requests that start a trace, 0 to 100 [default: 100 on the local mesh, 1 on a cluster]')
            [CompletionResult]::new('--outbound-traffic-policy', '--outbound-traffic-policy', [CompletionResultType]::ParameterName, 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as Istio''s meshConfig.outboundTrafficPolicy.mode')
            [CompletionResult]::new('--envoy', '--envoy', [CompletionResultType]::ParameterName, 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]')
            [CompletionResult]::new('--state-dir', '--state-dir', [CompletionResultType]::ParameterName, 'The local mesh''s state directory [default: $XDG_STATE_HOME/meshctl/local]')
            [CompletionResult]::new('--kubeconfig', '--kubeconfig', [CompletionResultType]::ParameterName, 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]')
            [CompletionResult]::new('--context', '--context', [CompletionResultType]::ParameterName, 'The kubeconfig context to use [default: its current context]')
            [CompletionResult]::new('-n', '-n', [CompletionResultType]::ParameterName, 'On a cluster, the namespace the demo''s workloads run in (made, and labelled for injection)')
            [CompletionResult]::new('--namespace', '--namespace', [CompletionResultType]::ParameterName, 'On a cluster, the namespace the demo''s workloads run in (made, and labelled for injection)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;demo-app' {
            [CompletionResult]::new('--name', '--name', [CompletionResultType]::ParameterName, 'The service name it answers with')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'The version it answers with')
            [CompletionResult]::new('--latency', '--latency', [CompletionResultType]::ParameterName, 'Added to every answer')
            [CompletionResult]::new('--error-rate', '--error-rate', [CompletionResultType]::ParameterName, 'Percent of requests answered 503 (spread evenly)')
            [CompletionResult]::new('--call', '--call', [CompletionResultType]::ParameterName, 'A service to call on every request, as HOST[:PORT][/PATH], through the sidecar')
            [CompletionResult]::new('--generate', '--generate', [CompletionResultType]::ParameterName, 'Send requests to this service by itself (HOST[:PORT][/PATH]), through the sidecar; `grpc://HOST:PORT` calls the demo gRPC method instead')
            [CompletionResult]::new('--rate', '--rate', [CompletionResultType]::ParameterName, 'Requests per second for --generate')
            [CompletionResult]::new('--gateway', '--gateway', [CompletionResultType]::ParameterName, 'The mesh''s ingress gateway, HOST:PORT (the local mesh tells every workload; on a cluster, its Service)')
            [CompletionResult]::new('--port', '--port', [CompletionResultType]::ParameterName, 'The port to listen on')
            [CompletionResult]::new('--tcp-port', '--tcp-port', [CompletionResultType]::ParameterName, 'Also serve a TCP port: each connection is greeted with `SERVICE VERSION` and its bytes echoed. The mesh gives a Workload port named `tcp` in `PORT_TCP`')
            [CompletionResult]::new('--grpc-port', '--grpc-port', [CompletionResultType]::ParameterName, 'Also serve the demo gRPC method (`meshctl.demo.Demo/Hello`, over h2c) with the same latency and error rate; failures are UNAVAILABLE. A Workload port named `grpc` is in `PORT_GRPC`')
            [CompletionResult]::new('--address', '--address', [CompletionResultType]::ParameterName, 'The address to listen on: 0.0.0.0 in a Pod, which is reached on its own IP')
            [CompletionResult]::new('--outbound', '--outbound', [CompletionResultType]::ParameterName, 'The sidecar''s outbound listener, which the local mesh tells every workload; without it, calls go to their hosts by name, as in a Pod whose sidecar captures them')
            [CompletionResult]::new('--via-gateway', '--via-gateway', [CompletionResultType]::ParameterName, 'Send --generate''s requests to the mesh''s ingress gateway instead, as clients outside the mesh do')
            [CompletionResult]::new('--echo', '--echo', [CompletionResultType]::ParameterName, 'Also answer with the request as it arrived: its path (and query), and its headers, to see what routes rewrote')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            break
        }
        'meshctl;completion' {
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'meshctl;help' {
            [CompletionResult]::new('validate', 'validate', [CompletionResultType]::ParameterValue, 'Check policy files offline: schema, references between resources, mTLS and JWT settings')
            [CompletionResult]::new('generate', 'generate', [CompletionResultType]::ParameterValue, 'Print policy YAML for a common intent; every document passes `meshctl validate`')
            [CompletionResult]::new('install', 'install', [CompletionResultType]::ParameterValue, 'Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane, ingress gateway, mesh CA), or with --local start one on this machine: the controller in the background, which runs the workloads, their sidecars and the ingress gateway')
            [CompletionResult]::new('uninstall', 'uninstall', [CompletionResultType]::ParameterValue, 'Remove what `install` made from the cluster, or with --local stop the local mesh and every process it started')
            [CompletionResult]::new('controller', 'controller', [CompletionResultType]::ParameterValue, 'Run the control plane in the foreground (what `install` starts in the background)')
            [CompletionResult]::new('inject', 'inject', [CompletionResultType]::ParameterValue, 'Add the mesh''s sidecar to the Pods of manifests, as the cluster''s webhook does when a Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without the webhook, or to see what it adds). Prints the manifests')
            [CompletionResult]::new('capture', 'capture', [CompletionResultType]::ParameterValue, 'Set up traffic capture in this network namespace (the injected init container)')
            [CompletionResult]::new('apply', 'apply', [CompletionResultType]::ParameterValue, 'Validate resources and store them in the mesh; with an error, nothing is stored')
            [CompletionResult]::new('analyze', 'analyze', [CompletionResultType]::ParameterValue, 'Find what is wrong with the running mesh: every validation rule over its stored policy (with files given by -f as if applied), and what only the running mesh shows')
            [CompletionResult]::new('get', 'get', [CompletionResultType]::ParameterValue, 'List resources of one kind or several (`vs,dr`), or show some by name')
            [CompletionResult]::new('delete', 'delete', [CompletionResultType]::ParameterValue, 'Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes')
            [CompletionResult]::new('proxy-status', 'proxy-status', [CompletionResultType]::ParameterValue, 'Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy''s reason)')
            [CompletionResult]::new('top', 'top', [CompletionResultType]::ParameterValue, 'Live request rate, success rate and latency per service and version, straight from the proxies')
            [CompletionResult]::new('trace', 'trace', [CompletionResultType]::ParameterValue, 'Recent traces through the mesh, slowest first, each as a waterfall of its spans with the one that spent the most time itself marked')
            [CompletionResult]::new('dashboard', 'dashboard', [CompletionResultType]::ParameterValue, 'Serve a page of the mesh: the service graph with each call''s rate, success and p99, charts by version, traces and configuration findings. From this binary, offline')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'Stepped rollouts with health gates: start, watch, steer')
            [CompletionResult]::new('mtls', 'mtls', [CompletionResultType]::ParameterValue, 'Mutual TLS between workloads: require it, see what every sidecar accepts, rotate certificates')
            [CompletionResult]::new('check', 'check', [CompletionResultType]::ParameterValue, 'Say whether the control plane, the gateway and every sidecar are healthy')
            [CompletionResult]::new('demo', 'demo', [CompletionResultType]::ParameterValue, 'Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that cluster''s installed mesh, in a namespace of its own')
            [CompletionResult]::new('demo-app', 'demo-app', [CompletionResultType]::ParameterValue, 'The demo application that the demo mesh and tests run as workloads')
            [CompletionResult]::new('completion', 'completion', [CompletionResultType]::ParameterValue, 'Print a shell completion script')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'meshctl;help;validate' {
            break
        }
        'meshctl;help;generate' {
            [CompletionResult]::new('traffic-split', 'traffic-split', [CompletionResultType]::ParameterValue, 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute')
            [CompletionResult]::new('circuit-breaker', 'circuit-breaker', [CompletionResultType]::ParameterValue, 'A DestinationRule that ejects failing instances and bounds the connection pool')
            [CompletionResult]::new('mtls', 'mtls', [CompletionResultType]::ParameterValue, 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given')
            [CompletionResult]::new('authz', 'authz', [CompletionResultType]::ParameterValue, 'An AuthorizationPolicy allowing (or denying) callers by service account')
            [CompletionResult]::new('jwt', 'jwt', [CompletionResultType]::ParameterValue, 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token')
            [CompletionResult]::new('canary', 'canary', [CompletionResultType]::ParameterValue, 'A Canary rolling a service out from one subset to another in steps, with health gates')
            [CompletionResult]::new('crds', 'crds', [CompletionResultType]::ParameterValue, 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`')
            break
        }
        'meshctl;help;generate;traffic-split' {
            break
        }
        'meshctl;help;generate;circuit-breaker' {
            break
        }
        'meshctl;help;generate;mtls' {
            break
        }
        'meshctl;help;generate;authz' {
            break
        }
        'meshctl;help;generate;jwt' {
            break
        }
        'meshctl;help;generate;canary' {
            break
        }
        'meshctl;help;generate;crds' {
            break
        }
        'meshctl;help;install' {
            break
        }
        'meshctl;help;uninstall' {
            break
        }
        'meshctl;help;controller' {
            break
        }
        'meshctl;help;inject' {
            break
        }
        'meshctl;help;capture' {
            break
        }
        'meshctl;help;apply' {
            break
        }
        'meshctl;help;analyze' {
            break
        }
        'meshctl;help;get' {
            break
        }
        'meshctl;help;delete' {
            break
        }
        'meshctl;help;proxy-status' {
            break
        }
        'meshctl;help;top' {
            break
        }
        'meshctl;help;trace' {
            break
        }
        'meshctl;help;dashboard' {
            break
        }
        'meshctl;help;canary' {
            [CompletionResult]::new('start', 'start', [CompletionResultType]::ParameterValue, 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Where a rollout stands, with every gate evaluation')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every rollout')
            [CompletionResult]::new('promote', 'promote', [CompletionResultType]::ParameterValue, 'Send all traffic to the canary now, skipping the remaining steps')
            [CompletionResult]::new('pause', 'pause', [CompletionResultType]::ParameterValue, 'Hold the rollout at its current weight')
            [CompletionResult]::new('resume', 'resume', [CompletionResultType]::ParameterValue, 'Continue a paused rollout')
            [CompletionResult]::new('abort', 'abort', [CompletionResultType]::ParameterValue, 'Send all traffic back to stable now')
            break
        }
        'meshctl;help;canary;start' {
            break
        }
        'meshctl;help;canary;status' {
            break
        }
        'meshctl;help;canary;list' {
            break
        }
        'meshctl;help;canary;promote' {
            break
        }
        'meshctl;help;canary;pause' {
            break
        }
        'meshctl;help;canary;resume' {
            break
        }
        'meshctl;help;canary;abort' {
            break
        }
        'meshctl;help;mtls' {
            [CompletionResult]::new('enable', 'enable', [CompletionResultType]::ParameterValue, 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it')
            [CompletionResult]::new('disable', 'disable', [CompletionResultType]::ParameterValue, 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Every workload''s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation')
            [CompletionResult]::new('rotate', 'rotate', [CompletionResultType]::ParameterValue, 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one')
            break
        }
        'meshctl;help;mtls;enable' {
            break
        }
        'meshctl;help;mtls;disable' {
            break
        }
        'meshctl;help;mtls;status' {
            break
        }
        'meshctl;help;mtls;rotate' {
            break
        }
        'meshctl;help;check' {
            break
        }
        'meshctl;help;demo' {
            break
        }
        'meshctl;help;demo-app' {
            break
        }
        'meshctl;help;completion' {
            break
        }
        'meshctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
