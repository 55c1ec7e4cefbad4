import CDNNL

#if canImport(Glibc)
  import Glibc
#endif

/// A oneDNN CPU engine with its in-order execution stream.
///
/// Every memory and primitive of one network belongs to one `CPUEngine`; the stream runs
/// primitives in submission order, so a forward pass is a plain loop of `execute` calls.
public final class CPUEngine {
  let engine: dnnl_engine_t
  let stream: dnnl_stream_t

  /// Processors online: the natural thread count for a network that has the machine to itself.
  /// With other busy processes on the same cores, fewer threads (or OMP_WAIT_POLICY=PASSIVE
  /// in the environment at start-up) avoid OpenMP threads spinning while they wait.
  public static var onlineProcessorCount: Int {
    max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
  }

  /// Creates the CPU engine (index 0) and its stream.
  public init() throws {
    var engine: dnnl_engine_t?
    try checkDNNL(dnnl_engine_create(&engine, dnnl_cpu, 0), "dnnl_engine_create", layer: nil)
    var stream: dnnl_stream_t?
    let status = dnnl_stream_create(&stream, engine, dnnl_stream_default_flags.rawValue)
    if status != dnnl_success {
      dnnl_engine_destroy(engine)
      try checkDNNL(status, "dnnl_stream_create", layer: nil)
    }
    self.engine = engine!
    self.stream = stream!
  }

  deinit {
    dnnl_stream_destroy(stream)
    dnnl_engine_destroy(engine)
  }

  /// Waits until every primitive submitted to the stream has finished.
  public func wait() throws {
    try checkDNNL(dnnl_stream_wait(stream), "dnnl_stream_wait", layer: nil)
  }
}
