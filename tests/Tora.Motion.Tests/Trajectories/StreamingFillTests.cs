using Tora.Motion.Trajectories;

namespace Tora.Motion.Tests.Trajectories;

public class StreamingFillTests
{
    // Below, at and above the streaming threshold (4096 bytes: 1024 floats), from unaligned starts, with odd tails.
    [Theory]
    [InlineData(0, 1023)]
    [InlineData(1, 1024)]
    [InlineData(3, 1031)]
    [InlineData(0, 4095)]
    [InlineData(1, 4096)]
    [InlineData(13, 4227)]
    [InlineData(31, 40_003)]
    public void Floats_and_bytes_are_filled_exactly_in_the_span(int offset, int length)
    {
        AssertFilledExactly(offset, length, 1f, -7f);
        AssertFilledExactly(offset, length, (byte)255, (byte)3);
    }

    private static void AssertFilledExactly<T>(int offset, int length, T value, T outside) where T : unmanaged
    {
        var buffer = new T[offset + length + 64];
        buffer.AsSpan().Fill(outside);
        StreamingFill.Fill(buffer.AsSpan(offset, length), value);
        for (var i = 0; i < buffer.Length; i++)
            Assert.Equal(i >= offset && i < offset + length ? value : outside, buffer[i]);
    }
}
