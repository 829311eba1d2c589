/** The spec `berth job init` writes: small, runnable on either driver, every line explained. */
export const EXAMPLE_SPEC = `# An example berth job, written by \`berth job init\`.
#   berth job validate example.yaml   check it (locally, nothing is sent)
#   berth job plan example.yaml       see what running it would do
#   berth job run example.yaml        run it and follow it until it runs
#   berth job status example          see where it runs; berth job stop example to stop it
# Every setting is described in the README, under "Job specs".

id: example                # unique in the cluster: lowercase letters, digits, _ and -
type: service              # service: kept running | batch: runs to completion | system: one per node
priority: 50               # 1..100; higher goes first when the cluster is full
datacenters: [dc1]         # the datacenters it may run in

groups:
  - name: app              # its allocations are named example.app[0], example.app[1], ...
    count: 1               # how many copies run
    # What happens when a task exits: restart it twice within 30 minutes, then fail the allocation.
    restart: {attempts: 2, interval: 30m, delay: 15s, mode: fail}
    tasks:
      - name: hello
        # No driver named: the node's default (docker when an engine answers, else process).
        # driver: docker
        config:
          image: busybox:latest              # docker only; the process driver runs the command on the host
          command: /bin/sh
          args: ["-c", "while true; do echo \\"$GREETING from $BERTH_ALLOC_NAME\\"; sleep 5; done"]
        env:
          GREETING: hello
        # What one copy reserves on its node: cpu in cores or millicores, memory in MiB or Ki/Mi/Gi.
        resources: {cpu: 100m, memory: 64Mi}
        kill_timeout: 5s                     # after SIGTERM, how long before SIGKILL
`;
