namespace Tora.Inference.Vae;

/// <summary>
/// Receives data output <paramref name="output"/> of one chunk, [1, C, <paramref name="frames"/>, h, w], which
/// holds the clip's frames from <paramref name="frameOffset"/> on; the values are valid only during the call.
/// </summary>
internal delegate void ChunkSink(int output, ReadOnlySpan<float> values, int frameOffset, int frames);

/// <summary>
/// The chunk loop the VAE encoder and decoder share (docs/model.md §4.3): a clip's frames split into the
/// original's chunks (<see cref="VaeChunking.Split"/>), each chunk's region gathered as [1, C, t, h, w] (times a
/// multiplier), run by the <see cref="CausalChunkRunner"/> with the caches carried from chunk to chunk, and each
/// output checked for the frames and size the chunk must give before the caller takes it. The caches are
/// forgotten before and after every clip.
/// </summary>
internal sealed class ChunkedClipRunner : IDisposable
{
    private readonly CausalChunkRunner _runner;
    private readonly string _graph;
    private readonly int _channels, _height, _width, _batch;
    private readonly Func<int, int> _outputFrames;
    private float[] _chunk = [];

    /// <param name="runner">The graph's runner (owned: disposed with this).</param>
    /// <param name="graph">The graph's name in error messages ("VAE decoder").</param>
    /// <param name="channels">Channels of the clips it takes.</param>
    /// <param name="height">Height of the clips it takes.</param>
    /// <param name="width">Width of the clips it takes.</param>
    /// <param name="batch">Frames per chunk (<see cref="VaeChunking.DecoderBatch"/>, <see cref="VaeChunking.EncoderBatch"/>).</param>
    /// <param name="outputFrames">Frames the graph gives for a chunk of that many frames.</param>
    public ChunkedClipRunner(CausalChunkRunner runner, string graph, int channels, int height, int width, int batch,
        Func<int, int> outputFrames)
    {
        (_runner, _graph, _outputFrames) = (runner, graph, outputFrames);
        (_channels, _height, _width, _batch) = (channels, height, width, batch);
    }

    /// <summary>Frames the graph gives for a clip of <paramref name="frames"/> frames.</summary>
    public int OutputFramesFor(int frames) => VaeChunking.Split(frames, _batch).Sum(c => _outputFrames(c.Count));

    /// <summary>
    /// Runs rows <paramref name="rows"/> × columns <paramref name="cols"/> of <paramref name="clip"/>
    /// ([1, C, F, H, W] or [1, F, C, H, W] per <paramref name="layout"/>, F = <paramref name="frames"/>) chunk after
    /// chunk, each value multiplied by <paramref name="multiplier"/> (1: copied as it is), and hands every output
    /// of every chunk to <paramref name="sink"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">The graph gave a chunk of another size than it must.</exception>
    public void Run(ReadOnlySpan<float> clip, int frames, FrameLayout layout, float multiplier, VaeTileSpan rows, VaeTileSpan cols,
        ChunkSink sink)
    {
        int c = _channels, plane = rows.Length * cols.Length;
        var chunks = VaeChunking.Split(frames, _batch);
        int maxChunk = chunks.Max(k => k.Count);
        if (_chunk.Length < c * maxChunk * plane) _chunk = new float[c * maxChunk * plane];

        _runner.Reset();
        int frameOffset = 0;
        foreach (var chunk in chunks)
        {
            Gather(clip, frames, layout, multiplier, rows, cols, chunk);
            int expected = _outputFrames(chunk.Count), offset = frameOffset;
            _runner.Run(_chunk.AsMemory(0, c * chunk.Count * plane), [1, c, chunk.Count, rows.Length, cols.Length], (k, values, shape) =>
            {
                if (shape[2] != expected || shape[3] != rows.OutputLength || shape[4] != cols.OutputLength)
                    throw new InvalidDataException($"{_graph} chunk [{chunk.Count}, {rows.Length}, {cols.Length}] gave [{shape[2]}, {shape[3]}, {shape[4]}], expected [{expected}, {rows.OutputLength}, {cols.OutputLength}]");
                sink(k, values, offset, expected);
            });
            frameOffset += expected;
        }
        _runner.Reset();
    }

    /// <summary>
    /// Copies an output chunk [C, <paramref name="count"/>, plane] into a clip [C, <paramref name="frames"/>, plane]
    /// at frame <paramref name="frameOffset"/>.
    /// </summary>
    public static void CopyIntoClip(ReadOnlySpan<float> chunk, int channels, int count, int plane, Span<float> clip, int frames,
        int frameOffset)
    {
        for (int ch = 0; ch < channels; ch++)
            chunk.Slice(ch * count * plane, count * plane).CopyTo(clip.Slice((ch * frames + frameOffset) * plane, count * plane));
    }

    /// <summary>Copies the chunk's frames of the region into the chunk buffer as [1, C, t, rows, cols].</summary>
    private void Gather(ReadOnlySpan<float> clip, int frames, FrameLayout layout, float multiplier, VaeTileSpan rows,
        VaeTileSpan cols, FrameChunk chunk)
    {
        int c = _channels, plane = rows.Length * cols.Length, fullPlane = _height * _width;
        for (int ch = 0; ch < c; ch++)
            for (int t = 0; t < chunk.Count; t++)
            {
                int src = layout == FrameLayout.ChannelsFirst
                    ? (ch * frames + chunk.Start + t) * fullPlane
                    : ((chunk.Start + t) * c + ch) * fullPlane;
                var dst = _chunk.AsSpan((ch * chunk.Count + t) * plane, plane);
                for (int y = 0; y < rows.Length; y++)
                {
                    var from = clip.Slice(src + (rows.Start + y) * _width + cols.Start, cols.Length);
                    var to = dst.Slice(y * cols.Length, cols.Length);
                    if (multiplier == 1f) from.CopyTo(to);
                    else for (int p = 0; p < from.Length; p++) to[p] = from[p] * multiplier;
                }
            }
    }

    /// <inheritdoc />
    public void Dispose() => _runner.Dispose();
}
