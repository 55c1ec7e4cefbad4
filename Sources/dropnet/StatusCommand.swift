import ArgumentParser
import DropnetDaemon
import Foundation

struct StatusCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "status",
    abstract: "Show what the daemon sees: classes, movies, frames, training, published model.",
    discussion: """
      Reads STATE/status.json, which `dropnet serve` rewrites (atomically) whenever its state \
      changes, and says whether a daemon holds STATE/daemon.pid. --json prints the file as \
      it is. The default state folder is the service's, /var/lib/dropnet.
      """
  )

  @Option(name: .long, help: "The daemon's state folder (folders.state).")
  var state: String = "/var/lib/dropnet"

  @Flag(name: .long, help: "Print status.json as it is.")
  var json = false

  func run() throws {
    let folder = URL(fileURLWithPath: state)
    guard let status = DaemonStatus.load(from: folder) else {
      FileHandle.standardError.write(
        Data(
          ("error: no readable \(folder.path)/\(DaemonStatus.fileName); is `dropnet serve` "
            + "using this state folder (--state)?\n").utf8))
      throw ExitCode(2)
    }
    if json {
      try Terminal.printJSON(status)
      return
    }
    let pid = DaemonProcessFile.runningDaemon(stateFolder: folder)
    print("daemon: " + (pid.map { "running (pid \($0))" } ?? "not running"))
    print("state: \(status.line) (at \(status.updatedAt))")
    let frames = status.classes.reduce(0) { $0 + $1.frames }
    let movies = status.classes.reduce(0) { $0 + $1.movies }
    print("dataset: \(status.classes.count) classes, \(movies) movies, \(frames) frames")
    if !status.classes.isEmpty {
      print(
        Terminal.table(
          header: ["class", "movies", "frames", "training"],
          rows: status.classes.map {
            [
              $0.label, "\($0.movies)", "\($0.frames)",
              status.waitingClasses[$0.label].map { "waits: \($0)" } ?? "yes",
            ]
          }))
    }
    for (movie, reason) in status.failedMovies.sorted(by: { $0.key < $1.key }) {
      print("failed: \(movie): \(reason)")
    }
    if let training = status.lastTraining {
      var line =
        "last training: \(training.pass) pass (\(training.mode?.description ?? "-")) "
        + "\(training.outcome)"
      if let accuracy = training.validationAccuracy {
        line += ", val acc \(String(format: "%.3f", accuracy))"
      }
      if let best = training.bestEpoch, let epochs = training.epochs {
        line += ", best epoch \(best)/\(epochs)"
      }
      line += ", started \(training.startedAt)"
      if let finished = training.finishedAt { line += ", finished \(finished)" }
      print(line)
      if let reason = training.reason { print("  \(reason)") }
    } else {
      print("last training: none")
    }
    if let published = status.published {
      print(
        "published: v\(published.version) at \(published.publishedAt), "
          + "\(published.labels.count) classes (\(published.labels.joined(separator: ", "))), "
          + "val acc \(String(format: "%.3f", published.validationAccuracy)), "
          + (published.heldOutAccuracy.map { "held-out acc \(String(format: "%.3f", $0)), " } ?? "")
          + "\(published.pass) pass (\(published.mode))")
    } else {
      print("published: nothing yet")
    }
  }
}
