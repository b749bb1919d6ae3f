# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_meshctl_global_optspecs
    string join \n h/help V/version
end

function __fish_meshctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_meshctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_meshctl_using_subcommand
    set -l cmd (__fish_meshctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c meshctl -n "__fish_meshctl_needs_command" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_needs_command" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "validate" -d 'Check policy files offline: schema, references between resources, mTLS and JWT settings'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "generate" -d 'Print policy YAML for a common intent; every document passes `meshctl validate`'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "install" -d 'Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane, ingress gateway, mesh CA), or with --local start one on this machine: the controller in the background, which runs the workloads, their sidecars and the ingress gateway'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "uninstall" -d 'Remove what `install` made from the cluster, or with --local stop the local mesh and every process it started'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "controller" -d 'Run the control plane in the foreground (what `install` starts in the background)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "inject" -d 'Add the mesh\'s sidecar to the Pods of manifests, as the cluster\'s webhook does when a Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without the webhook, or to see what it adds). Prints the manifests'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "capture" -d 'Set up traffic capture in this network namespace (the injected init container)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "apply" -d 'Validate resources and store them in the mesh; with an error, nothing is stored'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "analyze" -d 'Find what is wrong with the running mesh: every validation rule over its stored policy (with files given by -f as if applied), and what only the running mesh shows'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "get" -d 'List resources of one kind or several (`vs,dr`), or show some by name'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "delete" -d 'Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "proxy-status" -d 'Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy\'s reason)'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "top" -d 'Live request rate, success rate and latency per service and version, straight from the proxies'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "trace" -d 'Recent traces through the mesh, slowest first, each as a waterfall of its spans with the one that spent the most time itself marked'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "dashboard" -d 'Serve a page of the mesh: the service graph with each call\'s rate, success and p99, charts by version, traces and configuration findings. From this binary, offline'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "canary" -d 'Stepped rollouts with health gates: start, watch, steer'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "mtls" -d 'Mutual TLS between workloads: require it, see what every sidecar accepts, rotate certificates'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "check" -d 'Say whether the control plane, the gateway and every sidecar are healthy'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "demo" -d 'Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that cluster\'s installed mesh, in a namespace of its own'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "demo-app" -d 'The demo application that the demo mesh and tests run as workloads'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "completion" -d 'Print a shell completion script'
complete -c meshctl -n "__fish_meshctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -s f -l filename -d 'A file, a directory (read recursively for *.yaml, *.yml and *.json) or `-` for stdin' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -s n -l namespace -d 'The namespace of resources that do not name one' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''
sarif\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -l strict -d 'Fail (exit 1) on warnings as well as errors'
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -l reject-unknown -d 'Report kinds meshctl does not handle as errors instead of skipping them'
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand validate" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "traffic-split" -d 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "circuit-breaker" -d 'A DestinationRule that ejects failing instances and bounds the connection pool'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "mtls" -d 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "authz" -d 'An AuthorizationPolicy allowing (or denying) callers by service account'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "jwt" -d 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "canary" -d 'A Canary rolling a service out from one subset to another in steps, with health gates'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "crds" -d 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and not __fish_seen_subcommand_from traffic-split circuit-breaker mtls authz jwt canary crds help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -l subset -d 'A subset and its weight in percent; the weights must add up to 100' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -l label -d 'The workload label whose value names the subset' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -l port -d 'Split only the traffic to this port of the service (e.g. its gRPC port)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -l api -d 'The API to write the split in. With `gateway`, an HTTPRoute sends each subset\'s share to the Service SERVICE-NAME, on --port (80 when not given)' -r -f -a "istio\t''
gateway\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -l tcp -d 'Split connections to a TCP port (a VirtualService `tcp` rule) instead of requests'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from traffic-split" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l consecutive-errors -d 'Consecutive 5xx responses that eject an instance' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l interval -d 'How often instances are checked for ejection' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l ejection-time -d 'How long an ejected instance stays out (it grows with each ejection)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l max-ejection-percent -d 'The largest share of instances that may be ejected at once' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l max-connections -d 'The most TCP connections to the service, from each caller' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l max-pending -d 'The most requests waiting for a connection; more are answered 503 at once' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l subset -d 'A subset the rule defines (repeat for each): applied, the rule replaces the service\'s DestinationRule, so it must keep the subsets its routes use' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l label -d 'The workload label whose value names a subset' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from circuit-breaker" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from mtls" -s n -l namespace -d 'The namespace; without it, the policy is mesh-wide (in istio-system)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from mtls" -l mode -r -f -a "STRICT\t''
PERMISSIVE\t''
DISABLE\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from mtls" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from mtls" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from mtls" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -l allow-from -d 'Service accounts allowed to call (NAME in the same namespace, NAMESPACE/NAME, or *); everyone else is denied' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -l deny-from -d 'Service accounts denied (NAME, NAMESPACE/NAME, or * for every caller)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -l methods -d 'Only these HTTP methods (comma-separated)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -l paths -d 'Only these paths: exact, a prefix (/api/*) or a suffix (*.js)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from authz" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -l issuer -d 'The `iss` that tokens carry' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -l jwks-uri -d 'Where the issuer publishes its public keys' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -l jwks-file -d 'A JWKS file whose keys are put inline in the policy' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -l audience -d 'Accepted audiences (`aud`); any when none is given' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -l require -d 'Refuse requests that carry no token (403)'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from jwt" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l from -d 'The stable subset' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l to -d 'The subset being rolled out' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l steps -d 'Canary weights in percent, rising, ending at 100' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l interval -d 'The least time spent at each step' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l min-success-rate -d 'The lowest acceptable success rate of the canary, in percent' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l max-p99 -d 'The highest acceptable p99 latency of the canary' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l min-requests -d 'Fewer canary requests than this in a step hold it instead of deciding it' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l sequential-test -d 'Also roll a clearly failing canary back at once, by a sequential test on its error rate, rather than only when its step ends' -r -f -a "true\t''
false\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l api -d 'The routes whose weights move. With `gateway`, --from and --to name two Services, whose weights move in the HTTPRoutes attached to SERVICE' -r -f -a "istio\t''
gateway\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from canary" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from crds" -l output-file -d 'Write to this file instead of stdout' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from crds" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from crds" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "traffic-split" -d 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "circuit-breaker" -d 'A DestinationRule that ejects failing instances and bounds the connection pool'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "mtls" -d 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "authz" -d 'An AuthorizationPolicy allowing (or denying) callers by service account'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "jwt" -d 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "canary" -d 'A Canary rolling a service out from one subset to another in steps, with health gates'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "crds" -d 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`'
complete -c meshctl -n "__fish_meshctl_using_subcommand generate; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l gateway-port -d 'Where the ingress gateway listens, on 127.0.0.1' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l cert-lifetime -d 'How long workload certificates live (2s to 366d); they are renewed at half-life' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l timeout -d 'How long to wait for the mesh to be ready' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l trace-sampling -d 'The percentage of requests that start a trace, 0 to 100 [default: 100 on the local mesh, 1 on a cluster]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l outbound-traffic-policy -d 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as Istio\'s meshConfig.outboundTrafficPolicy.mode' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l envoy -d 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l image -d 'The meshctl image the controller runs' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l envoy-image -d 'The Envoy image the ingress gateway runs' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l gateway-service-type -d 'The type of the ingress gateway\'s Service, and of each Gateway\'s (unless its annotation networking.istio.io/service-type says otherwise)' -r -f -a "LoadBalancer\t'An external load balancer where the cluster has one, a node port everywhere'
NodePort\t'A port on every node'
ClusterIP\t'Inside the cluster only'"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l proxy-cpu-request -d 'The CPU each proxy (sidecar or gateway) requests, unless a Pod\'s annotation sidecar.meshctl.io/proxyCPU says otherwise: lower it on a small node that runs many Pods' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s o -l output -d 'With --dry-run, print the objects themselves, exactly as they would be applied' -r -f -a "json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l local -d 'Run the mesh on this machine instead of a cluster'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l dry-run -d 'Say what would be applied, and change nothing (the cluster is only read: which CRDs are Istio\'s, whether the mesh CA exists)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -l wait -d 'Wait until the CRDs are Established and the Deployments Available (see --timeout)'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand install" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l local -d 'Stop the mesh on this machine instead of removing it from a cluster'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -l purge -d 'Also delete what outlives an uninstall: the state directory (resources, logs) with --local; on a cluster, the CRDs (with every policy stored in them) and the mesh CA'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand uninstall" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l gateway-port -d 'Where the ingress gateway listens, on 127.0.0.1 (0 picks a free port)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l cert-lifetime -d 'How long workload certificates live (2s to 366d); they are renewed at half-life' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l resync-period -d 'How often the local mesh looks at its processes (exits, moved ports). A store change, a proxy\'s ACK or a certificate falling due wakes the controller at once; a cluster\'s controller is woken by its watches and has no period' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l trace-sampling -d 'The percentage of requests that start a trace, 0 to 100 [default: 100 with --local, 1 with --kubernetes]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l outbound-traffic-policy -d 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l envoy -d 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l xds-address -d 'Where proxies reach the xDS server (over TLS)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l status-address -d 'Where the status (`/debug/status`, `/debug/tls`, `/debug/traces`) is served: the Pod\'s loopback, which only a caller allowed to port-forward to the Pod reaches' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l webhook-address -d 'Where the sidecar injector (the admission webhook) is served, over TLS' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l serving-cert-lifetime -d 'How long the certificate the controller serves xDS with lives; it is renewed at half its life, and proxies take the new one as they reconnect' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l max-stream-age -d 'How long a proxy\'s xDS stream lives before it is closed, so that the proxy reconnects and proves its identity again with its current token (as Istio\'s 30 minutes)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l init-image -d 'The image of the injected init container that sets up traffic capture (meshctl\'s)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l proxy-image -d 'The image of the injected sidecar (Envoy)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l gateway-service-type -d 'The type of the Services of the Gateway API\'s Gateways\' proxies (a Gateway\'s annotation networking.istio.io/service-type chooses for itself)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l proxy-cpu-request -d 'The CPU each injected sidecar and each Gateway\'s proxy requests, unless a Pod\'s annotation says' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l system-namespace -d 'The namespace meshctl was installed in (its CA Secret\'s and the leader\'s Lease\'s)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l lease-duration -d 'How long the leader keeps the Lease without renewing it: how long another replica waits to take over when the leader dies' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l local -d 'Run the local mesh\'s control plane: its workloads, sidecars and gateway as processes on this machine'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -l kubernetes -d 'Run a cluster\'s control plane: Services, EndpointSlices and Pods from the API server, with the Pod\'s ServiceAccount or --kubeconfig'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand controller" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s f -l filename -d 'Manifests to inject: files, directories, or - for stdin. Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs and CronJobs get the sidecar; every other object is printed unchanged' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l image -d 'The meshctl image of the capture init container (install\'s --image)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l envoy-image -d 'The Envoy image of the sidecar (install\'s --envoy-image)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -l proxy-cpu-request -d 'The CPU the sidecar requests unless the Pod\'s annotation says (install\'s --proxy-cpu-request)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s o -l output -r -f -a "json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand inject" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l outbound-port -d 'Where outbound TCP goes: the proxy\'s outbound capture port' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l inbound-port -d 'Where inbound TCP goes: the proxy\'s inbound capture port' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l proxy-uid -d 'The proxy\'s user, whose own connections are never captured' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l exclude-inbound-ports -r
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l exclude-outbound-ports -r
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l exclude-outbound-ranges -r
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -l dry-run -d 'Print the rules instead of writing them'
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand capture" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -s f -l filename -d 'A file, a directory or `-` for stdin, as for `meshctl validate`' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -s n -l namespace -d 'The namespace of resources that do not name one' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -l timeout -d 'With --wait, how long to wait before giving up (exit 3)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -l dry-run -d 'Validate and report what would change, but write nothing'
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -l wait -d 'Return only when every proxy has ACKed the configuration the change makes'
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand apply" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -s f -l filename -d 'Files to analyze as if they were applied: a file, a directory or `-` for stdin' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -s n -l namespace -d 'Report on this namespace (and the namespace of resources in files that name none). With -f, findings in every namespace are reported: what the files would break, wherever' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -s o -l output -d 'Output format' -r -f -a "text\t''
json\t''
sarif\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -s A -l all-namespaces -d 'Report on every namespace'
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -l strict -d 'Fail (exit 1) on warnings as well as errors'
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand analyze" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -s l -l selector -d 'Only objects whose labels match: `k=v`, `k!=v`, `k` (has the label), `!k` (has not), joined by commas, all of which must hold' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -s o -l output -d 'A table (wide: more columns), the objects whole (json, yaml, a List for several), or their names as `KIND.GROUP/NAME` lines for scripts (name)' -r -f -a "table\t''
wide\t''
name\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -s A -l all-namespaces -d 'Across all namespaces'
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand get" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -s f -l filename -d 'Delete the objects a file (or directory, or `-`) describes' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand delete" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy-status" -s o -l output -d 'Output format' -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy-status" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy-status" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy-status" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy-status" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand proxy-status" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l interval -d 'The window: time between the two scrapes each figure is computed from' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l by -d 'One row per service and version, per workload instance, or per route' -r -f -a "service\t''
workload\t''
route\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l sort -r -f -a "rps\t''
success\t''
p99\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s o -l output -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s A -l all-namespaces -d 'Across all namespaces'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l outbound -d 'Also show what callers saw (outbound), besides what workloads served (inbound)'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -l once -d 'Print one window and exit'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand top" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -s n -l namespace -d 'The service\'s namespace' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -l min-duration -d 'Only traces at least this long (`500ms`, `1s`)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -l limit -d 'At most this many traces, slowest first' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -l id -d 'Only the trace of this id (32 hex digits, as a `traceparent` or `x-b3-traceid` header carried it)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -s o -l output -r -f -a "json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand trace" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l port -d 'The port to serve on (0 picks a free one)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l address -d 'The address to serve on: the page shows the mesh\'s traffic and configuration, so only this machine by default' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -l open -d 'Open the page in the default browser'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand dashboard" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "start" -d 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "status" -d 'Where a rollout stands, with every gate evaluation'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "list" -d 'Every rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "promote" -d 'Send all traffic to the canary now, skipping the remaining steps'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "pause" -d 'Hold the rollout at its current weight'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "resume" -d 'Continue a paused rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "abort" -d 'Send all traffic back to stable now'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and not __fish_seen_subcommand_from start status list promote pause resume abort help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l to -d 'The subset being rolled out (with --api gateway, the Service)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l from -d 'The stable subset, or Service [default: the one the service\'s routes send most traffic to]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l steps -d 'Canary weights in percent, rising, ending at 100' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l interval -d 'The least time spent at each step' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l min-success-rate -d 'The lowest acceptable success rate of the canary, in percent' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l max-p99 -d 'The highest acceptable p99 latency of the canary' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l min-requests -d 'Fewer canary requests than this in a step hold it instead of deciding it' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l sequential-test -d 'Also roll a clearly failing canary back at once, by a sequential test on its error rate, rather than only when its step ends' -r -f -a "true\t''
false\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l api -d 'The routes whose weights move. With `gateway`, --from and --to name two Services, whose weights move in the HTTPRoutes attached to SERVICE' -r -f -a "istio\t''
gateway\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l timeout -d 'The longest to watch' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -l no-wait -d 'Return once the rollout is stored, without watching it'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from start" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s o -l output -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -s o -l output -d 'As for `get`: a table, or each Canary whole (json, yaml), or their names' -r -f -a "table\t''
wide\t''
name\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -s A -l all-namespaces
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from list" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s o -l output -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from promote" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -s o -l output -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from pause" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -s o -l output -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from resume" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s n -l namespace -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s o -l output -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from abort" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "start" -d 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "status" -d 'Where a rollout stands, with every gate evaluation'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "list" -d 'Every rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "promote" -d 'Send all traffic to the canary now, skipping the remaining steps'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "pause" -d 'Hold the rollout at its current weight'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "resume" -d 'Continue a paused rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "abort" -d 'Send all traffic back to stable now'
complete -c meshctl -n "__fish_meshctl_using_subcommand canary; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -f -a "enable" -d 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -f -a "disable" -d 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -f -a "status" -d 'Every workload\'s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -f -a "rotate" -d 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and not __fish_seen_subcommand_from enable disable status rotate help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -s n -l namespace -d 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -l timeout -d 'How long to wait for the proxies' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -l mode -d 'STRICT accepts mTLS only; PERMISSIVE accepts mTLS and plaintext (a step on the way)' -r -f -a "strict\t''
permissive\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from enable" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -s n -l namespace -d 'The namespace to act on; without it, the whole mesh (the PeerAuthentication goes in istio-system)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -l timeout -d 'How long to wait for the proxies' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from disable" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from status" -s o -l output -d 'Output format' -r -f -a "table\t''
wide\t''
json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from status" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from status" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from status" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from status" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -l timeout -d 'How long to wait for the proxies' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -l root -d 'Rotate the root as well: a new root is trusted everywhere before it signs, and the old one is dropped once no proxy holds a certificate from it'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from rotate" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from help" -f -a "enable" -d 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from help" -f -a "disable" -d 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from help" -f -a "status" -d 'Every workload\'s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from help" -f -a "rotate" -d 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one'
complete -c meshctl -n "__fish_meshctl_using_subcommand mtls; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s o -l output -d 'Print the result for programs: `{"healthy": bool, "checks": [{"ok": bool, "message": string}]}`, one check per line of the text; the exit status is the same' -r -f -a "json\t''
yaml\t''"
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -l pre -d 'Before `meshctl install`: whether the cluster can take the mesh (its API answers, it runs Kubernetes 1.29 or later, you may apply what install applies, and Istio\'s control plane is not running there)'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand check" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l gateway-port -d 'Where the ingress gateway listens, on 127.0.0.1' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l cert-lifetime -d 'How long workload certificates live (2s to 366d); they are renewed at half-life' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l timeout -d 'How long to wait for the mesh to be ready' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l trace-sampling -d 'The percentage of requests that start a trace, 0 to 100 [default: 100 on the local mesh, 1 on a cluster]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l outbound-traffic-policy -d 'Where calls to hosts that no service or ServiceEntry has go: ALLOW_ANY (on, as addressed) or REGISTRY_ONLY (refused: 502 for HTTP, a closed connection for TCP), as Istio\'s meshConfig.outboundTrafficPolicy.mode' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l envoy -d 'The Envoy binary [default: $MESHCTL_ENVOY, then envoy on PATH]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l state-dir -d 'The local mesh\'s state directory [default: $XDG_STATE_HOME/meshctl/local]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l kubeconfig -d 'The kubeconfig file [default: $KUBECONFIG, then ~/.kube/config]' -r -F
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -l context -d 'The kubeconfig context to use [default: its current context]' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s n -l namespace -d 'On a cluster, the namespace the demo\'s workloads run in (made, and labelled for injection)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l name -d 'The service name it answers with' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l version -d 'The version it answers with' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l latency -d 'Added to every answer' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l error-rate -d 'Percent of requests answered 503 (spread evenly)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l call -d 'A service to call on every request, as HOST[:PORT][/PATH], through the sidecar' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l generate -d 'Send requests to this service by itself (HOST[:PORT][/PATH]), through the sidecar; `grpc://HOST:PORT` calls the demo gRPC method instead' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l rate -d 'Requests per second for --generate' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l gateway -d 'The mesh\'s ingress gateway, HOST:PORT (the local mesh tells every workload; on a cluster, its Service)' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l port -d 'The port to listen on' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l tcp-port -d 'Also serve a TCP port: each connection is greeted with `SERVICE VERSION` and its bytes echoed. The mesh gives a Workload port named `tcp` in `PORT_TCP`' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l grpc-port -d 'Also serve the demo gRPC method (`meshctl.demo.Demo/Hello`, over h2c) with the same latency and error rate; failures are UNAVAILABLE. A Workload port named `grpc` is in `PORT_GRPC`' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l address -d 'The address to listen on: 0.0.0.0 in a Pod, which is reached on its own IP' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l outbound -d 'The sidecar\'s outbound listener, which the local mesh tells every workload; without it, calls go to their hosts by name, as in a Pod whose sidecar captures them' -r
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l via-gateway -d 'Send --generate\'s requests to the mesh\'s ingress gateway instead, as clients outside the mesh do'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -l echo -d 'Also answer with the request as it arrived: its path (and query), and its headers, to see what routes rewrote'
complete -c meshctl -n "__fish_meshctl_using_subcommand demo-app" -s h -l help -d 'Print help'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c meshctl -n "__fish_meshctl_using_subcommand completion" -s V -l version -d 'Print version'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "validate" -d 'Check policy files offline: schema, references between resources, mTLS and JWT settings'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "generate" -d 'Print policy YAML for a common intent; every document passes `meshctl validate`'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "install" -d 'Install the mesh on the cluster of the current kubeconfig context (CRDs, control plane, ingress gateway, mesh CA), or with --local start one on this machine: the controller in the background, which runs the workloads, their sidecars and the ingress gateway'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "uninstall" -d 'Remove what `install` made from the cluster, or with --local stop the local mesh and every process it started'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "controller" -d 'Run the control plane in the foreground (what `install` starts in the background)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "inject" -d 'Add the mesh\'s sidecar to the Pods of manifests, as the cluster\'s webhook does when a Pod is created in a namespace labelled meshctl.io/inject=enabled (for clusters without the webhook, or to see what it adds). Prints the manifests'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "capture" -d 'Set up traffic capture in this network namespace (the injected init container)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "apply" -d 'Validate resources and store them in the mesh; with an error, nothing is stored'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "analyze" -d 'Find what is wrong with the running mesh: every validation rule over its stored policy (with files given by -f as if applied), and what only the running mesh shows'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "get" -d 'List resources of one kind or several (`vs,dr`), or show some by name'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "delete" -d 'Delete resources by kind and name (`vs,dr profile` deletes both), or those a file describes'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "proxy-status" -d 'Every proxy with the configuration version it runs: SYNCED, STALE or NACK (with Envoy\'s reason)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "top" -d 'Live request rate, success rate and latency per service and version, straight from the proxies'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "trace" -d 'Recent traces through the mesh, slowest first, each as a waterfall of its spans with the one that spent the most time itself marked'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "dashboard" -d 'Serve a page of the mesh: the service graph with each call\'s rate, success and p99, charts by version, traces and configuration findings. From this binary, offline'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "canary" -d 'Stepped rollouts with health gates: start, watch, steer'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "mtls" -d 'Mutual TLS between workloads: require it, see what every sidecar accepts, rotate certificates'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "check" -d 'Say whether the control plane, the gateway and every sidecar are healthy'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "demo" -d 'Run the demo: frontend, profile v1 and a slow v2, board, and a load generator inside the mesh. On a local mesh (started if none runs), or with --kubeconfig or --context on that cluster\'s installed mesh, in a namespace of its own'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "demo-app" -d 'The demo application that the demo mesh and tests run as workloads'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "completion" -d 'Print a shell completion script'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and not __fish_seen_subcommand_from validate generate install uninstall controller inject capture apply analyze get delete proxy-status top trace dashboard canary mtls check demo demo-app completion help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "traffic-split" -d 'A VirtualService splitting traffic between subsets by weight, and the DestinationRule defining those subsets; or, with --api gateway, an HTTPRoute'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "circuit-breaker" -d 'A DestinationRule that ejects failing instances and bounds the connection pool'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "mtls" -d 'A PeerAuthentication for a namespace, or the whole mesh when no namespace is given'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "authz" -d 'An AuthorizationPolicy allowing (or denying) callers by service account'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "jwt" -d 'A RequestAuthentication checking JWTs from an issuer; with --require, an AuthorizationPolicy refusing requests without a valid token'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "canary" -d 'A Canary rolling a service out from one subset to another in steps, with health gates'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from generate" -f -a "crds" -d 'The CustomResourceDefinitions of every kind meshctl understands, for `kubectl apply -f -`'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "start" -d 'Roll SERVICE out to a new subset in steps, with health gates; watch until it ends'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "status" -d 'Where a rollout stands, with every gate evaluation'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "list" -d 'Every rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "promote" -d 'Send all traffic to the canary now, skipping the remaining steps'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "pause" -d 'Hold the rollout at its current weight'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "resume" -d 'Continue a paused rollout'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from canary" -f -a "abort" -d 'Send all traffic back to stable now'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from mtls" -f -a "enable" -d 'Require mTLS: apply a PeerAuthentication (mesh-wide, or for one namespace with -n) and wait until every proxy runs it'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from mtls" -f -a "disable" -d 'Remove the PeerAuthentication `enable` made: back to the mesh default, PERMISSIVE (sidecars still speak mTLS to each other, and accept plaintext again). To turn mTLS off entirely, apply a PeerAuthentication with mode DISABLE'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from mtls" -f -a "status" -d 'Every workload\'s mode, identity and certificate expiry, and what its sidecar really does: whether an mTLS handshake with a mesh certificate succeeds and plaintext is refused; and the stage of the newest certificate rotation'
complete -c meshctl -n "__fish_meshctl_using_subcommand help; and __fish_seen_subcommand_from mtls" -f -a "rotate" -d 'Reissue every workload certificate now (the proxies take them without a restart); with --root, replace the root too, trusting old and new until every proxy holds a certificate from the new one'
