import Foundation

/// Reading whole model files with errors that say which file and what to do.
enum ModelFile {
  /// The bytes of `url`; `kind` ("checkpoint", "TensorFlow graph") goes into messages.
  static func read(_ url: URL, kind: String) throws -> Data {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else {
      throw ModelError(
        code: .fileNotFound, file: url.path,
        message: "no \(kind) at this path; check the path (relative paths are resolved from "
          + "\(FileManager.default.currentDirectoryPath))")
    }
    guard !isFolder.boolValue else {
      throw ModelError(
        code: .unreadable, file: url.path,
        message: "this is a folder, not a \(kind) file; pass the file inside it")
    }
    do {
      return try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
      throw ModelError(
        code: .unreadable, file: url.path,
        message: "the \(kind) could not be read (\(error.localizedDescription)); check its "
          + "permissions")
    }
  }
}
