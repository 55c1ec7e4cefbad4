import ArgumentParser
import DropnetDaemon
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

struct RebuildCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rebuild",
    abstract: "Ask the running daemon to rebuild from scratch.",
    discussion: """
      Sends SIGUSR1 to the `dropnet serve` that holds STATE/daemon.pid: it re-extracts every \
      movie, trains from ImageNet weights and publishes without the gate. Repeated requests \
      before it starts coalesce into one rebuild. Watch it with \
      `journalctl -u dropnet -f` or `dropnet status`.
      """
  )

  @Option(name: .long, help: "The daemon's state folder (folders.state).")
  var state: String = "/var/lib/dropnet"

  func run() throws {
    do {
      let pid = try DaemonProcessFile.signal(SIGUSR1, stateFolder: URL(fileURLWithPath: state))
      print("asked dropnet serve (pid \(pid)) to rebuild")
    } catch let error as DaemonError {
      FileHandle.standardError.write(Data("error: \(error)\n".utf8))
      throw ExitCode(2)
    }
  }
}
