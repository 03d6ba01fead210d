namespace Tora.Core.Blobs;

/// <summary>
/// The blob store cannot be used right now: the filesystem root cannot be written or read (missing, replaced by a
/// file, disk full, permissions), or the S3 service cannot be reached or answers with a server error or timeout.
/// It is an infrastructure fault that heals by itself or by an operator, never a property of the request: the API
/// answers <c>503 storage_unavailable</c> (<see cref="Tora.Contracts.GenerationErrorCodes.StorageUnavailable"/>) with <c>Retry-After</c>, and a worker waits for the store (docs/reliability.md).
/// A missing object is not this exception (reads return null, deletes succeed).
/// </summary>
public sealed class BlobStoreUnavailableException : Exception
{
    /// <summary>Creates the exception with a message saying which store failed and how.</summary>
    public BlobStoreUnavailableException(string message, Exception? innerException = null) : base(message, innerException) { }
}
