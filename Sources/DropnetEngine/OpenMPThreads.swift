#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The thread count of the OpenMP runtime that Debian's oneDNN is built with.
///
/// oneDNN's C API has no thread setter for OpenMP builds, and the OpenMP header is not part of
/// CDNNL, so the two runtime functions are looked up in the already loaded libgomp (libdnnl links
/// it). OpenMP keeps the count per calling thread, so callers set it on every entry, not once.
enum OpenMPThreads {
  private typealias SetFunction = @convention(c) (Int32) -> Void
  private typealias GetFunction = @convention(c) () -> Int32

  /// Sets the number of threads oneDNN primitives use when run from the calling thread.
  static func set(_ threadCount: Int) throws {
    guard let symbol = lookUp("omp_set_num_threads") else {
      throw EngineError(
        code: .threadingUnavailable,
        message: "omp_set_num_threads is not loaded; this oneDNN is not an OpenMP build. "
          + "Set OMP_NUM_THREADS (or the runtime's equivalent) in the environment instead")
    }
    unsafeBitCast(symbol, to: SetFunction.self)(Int32(threadCount))
  }

  /// The number of threads oneDNN primitives would use from the calling thread, if known.
  static func current() -> Int? {
    guard let symbol = lookUp("omp_get_max_threads") else { return nil }
    return Int(unsafeBitCast(symbol, to: GetFunction.self)())
  }

  private static func lookUp(_ name: String) -> UnsafeMutableRawPointer? {
    // RTLD_DEFAULT is the null handle in glibc: search every loaded object.
    dlsym(UnsafeMutableRawPointer(bitPattern: 0), name)
  }
}
