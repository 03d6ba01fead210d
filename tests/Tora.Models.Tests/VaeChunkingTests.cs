using Tora.Inference.Vae;

namespace Tora.Models.Tests;

public sealed class VaeChunkingTests
{
    [Theory]
    [InlineData(13, 2, new[] { 3, 2, 2, 2, 2, 2 })]
    [InlineData(12, 2, new[] { 2, 2, 2, 2, 2, 2 })]
    [InlineData(1, 2, new[] { 1 })]
    [InlineData(49, 8, new[] { 9, 8, 8, 8, 8, 8 })]
    [InlineData(1, 8, new[] { 1 })]
    [InlineData(5, 8, new[] { 5 })]
    public void Splits_frames_as_diffusers(int frames, int batch, int[] sizes)
    {
        var chunks = VaeChunking.Split(frames, batch);
        Assert.Equal(sizes, chunks.Select(c => c.Count));
        int next = 0;
        foreach (var c in chunks)
        {
            Assert.Equal(next, c.Start);
            next += c.Count;
        }
        Assert.Equal(frames, next);
    }

    [Theory]
    [InlineData(3, 9)]
    [InlineData(2, 8)]
    [InlineData(1, 1)]
    public void Counts_decoded_frames_per_chunk(int latentFrames, int frames) =>
        Assert.Equal(frames, VaeChunking.DecodedFrames(latentFrames, 4));

    [Theory]
    [InlineData(9, 3)]
    [InlineData(8, 2)]
    [InlineData(1, 1)]
    public void Counts_encoded_frames_per_batch(int frames, int latentFrames) =>
        Assert.Equal(latentFrames, VaeChunking.EncodedFrames(frames, 4));
}
