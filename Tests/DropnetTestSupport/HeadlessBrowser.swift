import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// Debian's Chromium, headless, driven through the DevTools protocol over a pipe
/// (`--remote-debugging-pipe`: commands on its fd 3, answers and events on its fd 4, each a
/// JSON message ended by a NUL byte): no port, no network. Tests load a page as a person's
/// browser would and read what it shows, which images loaded and what went wrong in its
/// console. Every wait has a deadline.
public final class HeadlessBrowser {
  /// What loading a page gave.
  public struct Page {
    /// Console errors, uncaught exceptions and error log entries (failed loads, blocked
    /// content), in order.
    public var errors: [String]
    /// The value the expression returned (JSON types).
    public var value: Any?
    /// A PNG of the whole page, when asked for.
    public var screenshot: Data?
  }

  /// A set-up or protocol failure, with Chromium's own output when it said something.
  public struct Failure: Error, CustomStringConvertible {
    public var description: String
  }

  /// Debian's chromium.
  public static let executable = URL(fileURLWithPath: "/usr/bin/chromium")

  private let process: pid_t
  private let commands: Int32
  private let answers: Int32
  private let profile: URL
  private var buffer: [UInt8] = []
  private var events: [[String: Any]] = []
  private var nextID = 0
  private var closed = false

  /// Starts Chromium with a fresh profile. Throws `TestFiles.Missing` when it is not
  /// installed.
  public init() throws {
    guard FileManager.default.isExecutableFile(atPath: Self.executable.path) else {
      throw TestFiles.Missing(
        "missing \(Self.executable.path): install Debian's chromium (examples/install-dependencies.sh --tests)"
      )
    }
    profile = try TestFiles.temporaryFolder("chromium")
    var toBrowser: [Int32] = [0, 0]
    var fromBrowser: [Int32] = [0, 0]
    guard pipe(&toBrowser) == 0, pipe(&fromBrowser) == 0 else {
      throw Failure(description: "pipe() failed: \(String(cString: strerror(errno)))")
    }
    let log = profile.appendingPathComponent("chromium.log").path
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    posix_spawn_file_actions_adddup2(&actions, toBrowser[0], 3)
    posix_spawn_file_actions_adddup2(&actions, fromBrowser[1], 4)
    let arguments = [
      Self.executable.path, "--headless=new", "--no-sandbox", "--disable-gpu",
      "--remote-debugging-pipe", "--user-data-dir=\(profile.path)", "--no-first-run",
      "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--mute-audio",
      "about:blank",
    ]
    var pid: pid_t = 0
    let argv = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let status = posix_spawn(&pid, Self.executable.path, &actions, nil, argv, environ)
    close(toBrowser[0])
    close(fromBrowser[1])
    guard status == 0 else {
      close(toBrowser[1])
      close(fromBrowser[0])
      throw Failure(description: "cannot start chromium: \(String(cString: strerror(status)))")
    }
    process = pid
    commands = toBrowser[1]
    answers = fromBrowser[0]
  }

  deinit { shutDown() }

  /// Loads `url` in a new tab `width` CSS pixels wide, waits for its load event (every image
  /// decoded), evaluates `expression` (its value must be JSON-serialisable) and, with
  /// `screenshot`, captures the whole page as PNG.
  public func load(
    _ url: URL, width: Int = 1200, evaluating expression: String, screenshot: Bool = false,
    within limit: Duration = .seconds(30)
  ) throws -> Page {
    let deadline = ContinuousClock.now + limit
    let target = try send("Target.createTarget", ["url": "about:blank"], by: deadline)
    guard let targetID = target["targetId"] as? String else {
      throw Failure(description: "no target id in \(target)")
    }
    let attached = try send(
      "Target.attachToTarget", ["targetId": targetID, "flatten": true], by: deadline)
    guard let session = attached["sessionId"] as? String else {
      throw Failure(description: "no session id in \(attached)")
    }
    for method in ["Page.enable", "Runtime.enable", "Log.enable"] {
      _ = try send(method, session: session, by: deadline)
    }
    _ = try send(
      "Emulation.setDeviceMetricsOverride",
      ["width": width, "height": 900, "deviceScaleFactor": 1, "mobile": false],
      session: session, by: deadline)
    events.removeAll()
    let navigation = try send(
      "Page.navigate", ["url": url.absoluteString], session: session, by: deadline)
    if let error = navigation["errorText"] as? String {
      throw Failure(description: "cannot open \(url.path): \(error)")
    }
    _ = try waitForEvent("Page.loadEventFired", session: session, by: deadline)
    let evaluated = try send(
      "Runtime.evaluate",
      ["expression": expression, "returnByValue": true, "awaitPromise": true],
      session: session, by: deadline)
    if let exception = evaluated["exceptionDetails"] {
      throw Failure(description: "the expression failed: \(exception)")
    }
    var picture: Data?
    if screenshot {
      let shot = try send(
        "Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true],
        session: session, by: deadline)
      picture = (shot["data"] as? String).flatMap { Data(base64Encoded: $0) }
    }
    let errors = events.filter { ($0["sessionId"] as? String) == session }.compactMap(
      Self.errorText)
    _ = try send("Target.closeTarget", ["targetId": targetID], by: deadline)
    return Page(
      errors: errors, value: (evaluated["result"] as? [String: Any])?["value"],
      screenshot: picture)
  }

  /// The error an event reports, if it is one.
  private static func errorText(_ event: [String: Any]) -> String? {
    let parameters = event["params"] as? [String: Any] ?? [:]
    switch event["method"] as? String {
    case "Runtime.consoleAPICalled":
      guard ["error", "assert"].contains(parameters["type"] as? String) else { return nil }
      let arguments = parameters["args"] as? [[String: Any]] ?? []
      return "console: "
        + arguments.map { "\($0["value"] ?? $0["description"] ?? "")" }
        .joined(separator: " ")
    case "Runtime.exceptionThrown":
      return "exception: \(parameters["exceptionDetails"] ?? "")"
    case "Log.entryAdded":
      let entry = parameters["entry"] as? [String: Any] ?? [:]
      guard entry["level"] as? String == "error" else { return nil }
      return "log: \(entry["text"] ?? "") \(entry["url"] ?? "")"
    default:
      return nil
    }
  }

  // MARK: Protocol

  /// Sends a command and returns its result, keeping the events that arrive meanwhile.
  private func send(
    _ method: String, _ parameters: [String: Any] = [:], session: String? = nil,
    by deadline: ContinuousClock.Instant
  ) throws -> [String: Any] {
    nextID += 1
    let id = nextID
    var message: [String: Any] = ["id": id, "method": method, "params": parameters]
    if let session { message["sessionId"] = session }
    var bytes = [UInt8](try JSONSerialization.data(withJSONObject: message))
    bytes.append(0)
    var written = 0
    while written < bytes.count {
      let count = bytes[written...].withUnsafeBytes { write(commands, $0.baseAddress, $0.count) }
      guard count > 0 else {
        throw failure("cannot send \(method) to chromium (\(String(cString: strerror(errno))))")
      }
      written += count
    }
    while true {
      let answer = try nextMessage(by: deadline, waitingFor: method)
      guard answer["id"] as? Int == id else {
        events.append(answer)
        continue
      }
      if let error = answer["error"] {
        throw failure("\(method) failed: \(error)")
      }
      return answer["result"] as? [String: Any] ?? [:]
    }
  }

  private func waitForEvent(
    _ method: String, session: String, by deadline: ContinuousClock.Instant
  ) throws -> [String: Any] {
    let matches = { (event: [String: Any]) in
      event["method"] as? String == method && event["sessionId"] as? String == session
    }
    if let seen = events.first(where: matches) { return seen }
    while true {
      let event = try nextMessage(by: deadline, waitingFor: method)
      events.append(event)
      if matches(event) { return event }
    }
  }

  /// The next message, read until the deadline.
  private func nextMessage(by deadline: ContinuousClock.Instant, waitingFor what: String) throws
    -> [String: Any]
  {
    while true {
      if let end = buffer.firstIndex(of: 0) {
        let message = Data(buffer[..<end])
        buffer.removeSubrange(...end)
        guard let object = try JSONSerialization.jsonObject(with: message) as? [String: Any]
        else { throw failure("chromium sent something that is not a JSON object") }
        return object
      }
      // Never negative: poll() takes a negative timeout as "wait forever".
      let (seconds, attoseconds) = max(.zero, deadline - ContinuousClock.now).components
      var waiting = pollfd(fd: answers, events: Int16(POLLIN), revents: 0)
      let milliseconds = Int32(min(seconds * 1000 + attoseconds / 1_000_000_000_000_000, 60_000))
      guard poll(&waiting, 1, milliseconds) == 1 else {
        throw failure("chromium did not answer in time (waiting for \(what))")
      }
      var chunk = [UInt8](repeating: 0, count: 65536)
      let count = chunk.withUnsafeMutableBytes { read(answers, $0.baseAddress, $0.count) }
      guard count > 0 else { throw failure("chromium closed its pipe (waiting for \(what))") }
      buffer += chunk[..<count]
    }
  }

  private func failure(_ text: String) -> Failure {
    let log =
      (try? String(contentsOf: profile.appendingPathComponent("chromium.log"), encoding: .utf8))
      ?? ""
    return Failure(
      description: text + (log.isEmpty ? "" : "; chromium said:\n" + String(log.suffix(2000))))
  }

  /// Closes the browser: asks it to, waits up to 10 s for it to close its pipe, and ends
  /// what is left of it.
  private func shutDown() {
    guard !closed else { return }
    closed = true
    let deadline = ContinuousClock.now + .seconds(10)
    _ = try? send("Browser.close", by: deadline)
    while (try? nextMessage(by: deadline, waitingFor: "the browser to close")) != nil {}
    close(commands)
    close(answers)
    var status: Int32 = 0
    if waitpid(process, &status, WNOHANG) == 0 {
      kill(process, SIGKILL)
      waitpid(process, &status, 0)
    }
    try? FileManager.default.removeItem(at: profile)
  }
}
