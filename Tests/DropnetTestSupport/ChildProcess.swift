import Foundation

/// Runs a program to its end with stdout and stderr captured together: the one way the tests
/// run ffmpeg, python3 (coremltools) and the `dropnet` executable when they only need the
/// result, not the output as it arrives.
public enum ChildProcess {
  /// How a finished program ended.
  public struct Result {
    /// The exit status, or the signal number when `killedBySignal`.
    public var status: Int32
    public var killedBySignal: Bool
    /// stdout and stderr, interleaved as written.
    public var output: String
  }

  /// Runs `executable` with `arguments` (and `environment`, else the test process's own).
  public static func run(
    _ executable: URL, _ arguments: [String], environment: [String: String]? = nil
  ) throws -> Result {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    if let environment { process.environment = environment }
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Result(
      status: process.terminationStatus,
      killedBySignal: process.terminationReason == .uncaughtSignal,
      output: String(decoding: output, as: UTF8.self))
  }

  /// The Python with the tests' packages: `$DROPNET_PYTHON` (Tests/run-tests.sh sets it to the
  /// virtual environment examples/python-env.sh makes), else that environment's python when it
  /// exists, else python3 from the PATH.
  public static var pythonExecutable: String {
    if let path = ProcessInfo.processInfo.environment["DROPNET_PYTHON"], !path.isEmpty {
      return path
    }
    let venv = TestFiles.packageRoot.appendingPathComponent("examples/generated/venv/bin/python")
    return FileManager.default.isExecutableFile(atPath: venv.path) ? venv.path : "python3"
  }

  /// Runs `pythonExecutable` with `arguments` (coremltools checks), quietly: TensorFlow's start-up
  /// chatter off (coremltools imports it when installed), and OPENBLAS_CORETYPE unset: the
  /// test set-up may export SkylakeX for Debian's OpenBLAS, and NumPy's own OpenBLAS obeys it
  /// too and dies with SIGILL on CPUs without AVX-512.
  public static func python(_ arguments: [String]) throws -> Result {
    var environment = ProcessInfo.processInfo.environment
    environment["TF_CPP_MIN_LOG_LEVEL"] = "3"
    environment["OPENBLAS_CORETYPE"] = nil
    return try run(
      URL(fileURLWithPath: "/usr/bin/env"), [pythonExecutable] + arguments,
      environment: environment)
  }
}
