using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Tora.Core.Generations;

/// <summary>
/// UUIDv7 ids that increase strictly within this process (RFC 9562 §6.2 method 1: the 12-bit <c>rand_a</c> field
/// is a counter within one millisecond). <see cref="Guid.CreateVersion7()"/> is random within a millisecond, and
/// lists are ordered by id, so two generations created in the same millisecond would otherwise list out of order.
/// </summary>
public static class GenerationIds
{
    private static readonly Lock Gate = new();
    private static long _lastMs;
    private static int _counter;

    /// <summary>A new id, greater than every id this process made before.</summary>
    public static Guid Next()
    {
        long ms;
        int counter;
        lock (Gate)
        {
            ms = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), _lastMs);
            if (ms == _lastMs && _counter < 0xFFF) _counter++;
            else
            {
                if (ms == _lastMs) ms++; // counter exhausted: borrow the next millisecond
                // Start low in the range so a burst has room to count up.
                _counter = RandomNumberGenerator.GetInt32(0x400);
            }
            _lastMs = ms;
            counter = _counter;
        }
        Span<byte> b = stackalloc byte[16];
        RandomNumberGenerator.Fill(b[8..]);
        BinaryPrimitives.WriteUInt64BigEndian(b, ((ulong)ms << 16) | 0x7000UL | (uint)counter);
        b[8] = (byte)((b[8] & 0x3F) | 0x80);
        return new Guid(b, bigEndian: true);
    }
}
