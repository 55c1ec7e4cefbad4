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

  /// The instruction set oneDNN's kernels use on this CPU, in oneDNN's words (e.g. "AVX-512
  /// with DL Boost and bfloat16"); what decides which kernels run and so the last bits of
  /// every result.
  public static var instructionSet: String {
    let isa = dnnl_get_effective_cpu_isa()
    switch isa {
    case dnnl_cpu_isa_sse41: return "SSE4.1"
    case dnnl_cpu_isa_avx: return "AVX"
    case dnnl_cpu_isa_avx2: return "AVX2"
    case dnnl_cpu_isa_avx2_vnni: return "AVX2 with DL Boost"
    case dnnl_cpu_isa_avx512_core: return "AVX-512"
    case dnnl_cpu_isa_avx512_core_vnni: return "AVX-512 with DL Boost"
    case dnnl_cpu_isa_avx512_core_bf16: return "AVX-512 with DL Boost and bfloat16"
    case dnnl_cpu_isa_avx512_core_amx: return "AVX-512 with DL Boost, bfloat16 and AMX"
    default: return "oneDNN ISA 0x\(String(isa.rawValue, radix: 16))"
    }
  }

  /// Whether oneDNN runs bfloat16 dot products natively here (AVX-512 BF16 or AMX).
  public static var hasNativeBFloat16: Bool {
    let isa = dnnl_get_effective_cpu_isa()
    return isa == dnnl_cpu_isa_avx512_core_bf16 || isa == dnnl_cpu_isa_avx512_core_amx
  }

  /// oneDNN's version, e.g. "2.6.3".
  public static var libraryVersion: String {
    guard let version = dnnl_version()?.pointee else { return "unknown" }
    return "\(version.major).\(version.minor).\(version.patch)"
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
