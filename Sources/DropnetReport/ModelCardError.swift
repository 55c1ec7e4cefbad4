/// A model card could not be made, read or written; the message says why and what to do.
public struct ModelCardError: Error, CustomStringConvertible, Sendable, Equatable {
  public var message: String

  public init(_ message: String) { self.message = message }

  public var description: String { message }
}
