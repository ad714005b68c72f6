import Testing

@testable import HitlCLI

/// Golden output: `hitl stack --help` is documentation people read; a change
/// to it should be a decision, seen in review.
struct StackHelpGoldenTests {
    @Test func stackHelp() {
        let help = Hitl.helpMessage(for: Stack.self, columns: 80)
        #expect(help == Self.stackHelp, "update the golden text if the change is intended:\n\(help)")
    }

    @Test func everyStackCommandHasExamples() {
        for command in Stack.configuration.subcommands {
            let help = Hitl.helpMessage(for: command, columns: 80)
            #expect(help.contains("Examples:"), "\(command._commandName) --help has no examples")
        }
    }

    static let stackHelp = """
        OVERVIEW: Start, inspect, restart and stop the whole stack of services.

        compose/stack.json says which services run, in what order, with what
        environment, health checks and restart policy. `up` starts a supervisor in the
        background (`hitl stack supervise`); it starts each service once the one before
        it is SERVING, restarts a service that crashes (with exponential backoff), and
        stops everything in reverse order on `down`.

        The home folder (--home, else $HITL_HOME, else the one the last `up` recorded
        in ~/.config/hitl/home, else the repository's .hitl) holds the sockets and
        tokens (run/, 0700), databases (data/) and one log per service (logs/).

        Examples:
          hitl stack up                    # start everything, wait until SERVING
          hitl stack status                # SERVICE STATE PID RESTARTS UPTIME SOCKET
          hitl stack restart echo          # stop and start one service
          hitl stack logs echo -n 50 -f    # the last 50 lines, then follow
          hitl stack down                  # stop everything gracefully
          scripts/stack up                 # the same, after building

        USAGE: hitl stack <subcommand>

        OPTIONS:
          -h, --help              Show help information.

        SUBCOMMANDS:
          up                      Start the stack in the background and wait until
                                  every service is SERVING.
          down                    Stop every service gracefully, then the supervisor.
          status                  Show every service's state, pid, restarts, uptime and
                                  socket.
          restart                 Restart one service and wait until it is SERVING
                                  again.
          logs                    Print a service's log (logs/<service>.log); -f
                                  follows it.
          supervise               Run the supervisor in the foreground (what `up`
                                  starts in the background).

          See 'hitl help stack <subcommand>' for detailed help.
        """
}
