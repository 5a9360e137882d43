namespace Imagebin.Infrastructure.Outbound;

/// <summary>
/// A request to a user-given URL that was refused or failed. <see cref="Exception.Message"/> is a short reason that may be
/// shown to the user ("the address 127.0.0.1 is not public", "timed out after 5 s"); it never carries a stack trace or
/// anything read from the remote body.
/// </summary>
public sealed class OutboundException(string reason, Exception? innerException = null) : Exception(reason, innerException)
{
    /// <summary>The body was (or said it would be) larger than the caller's limit.</summary>
    public bool IsTooLarge { get; init; }
}
