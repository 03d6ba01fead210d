namespace Tora.Motion.Trajectories;

/// <summary>One non-zero entry of the sparse flow before blurring (docs/model.md §2.1).</summary>
/// <param name="Frame">Frame <c>t</c> (1..F−1) the displacement leads into.</param>
/// <param name="X">Column of the object in frame <c>t−1</c>, where the displacement is stored.</param>
/// <param name="Y">Row of the object in frame <c>t−1</c>.</param>
/// <param name="Dx">Horizontal displacement in pixels.</param>
/// <param name="Dy">Vertical displacement in pixels.</param>
public readonly record struct SparseFlowEntry(int Frame, int X, int Y, float Dx, float Dy);

/// <summary>
/// Tora's flow video computed sparsely: per frame, each trajectory contributes one displacement pixel, blurred
/// by the peak-1 Gaussian (so it reaches only 49 px), then coloured with <c>flow_to_image</c> under one global
/// max norm (docs/model.md §2). Everything outside the blurred windows is zero flow, i.e. white, so only the
/// windows are computed; the cost does not grow with the frame size except for filling the output.
/// </summary>
public sealed class FlowVideo
{
    private readonly Source[][] _frames; // per frame, the deduplicated non-zero sources in trajectory order

    private FlowVideo(VideoGeometry geometry, Source[][] frames, IReadOnlyList<SparseFlowEntry> entries)
    {
        Geometry = geometry;
        _frames = frames;
        SparseEntries = entries;
        MaxNorm = ComputeMaxNorm();
    }

    /// <summary>Frames, height and width.</summary>
    public VideoGeometry Geometry { get; }

    /// <summary>The non-zero sparse flow entries, by frame, in the order the original writes them.</summary>
    public IReadOnlyList<SparseFlowEntry> SparseEntries { get; }

    /// <summary>The largest flow norm over all frames, pixels and trajectories (0 for no motion).</summary>
    public float MaxNorm { get; }

    /// <summary>
    /// Builds the sparse flow of trajectories already resampled to video pixels (one array of F points each, all
    /// inside the frame). The displacement into frame <c>t</c> is stored at the position of frame <c>t−1</c>; frame
    /// 0 stays empty; a later trajectory overwrites an earlier one on the same pixel (docs/model.md §1.3, §2.1).
    /// </summary>
    public static FlowVideo Create(IReadOnlyList<PixelPoint[]> tracks, VideoGeometry geometry)
    {
        geometry.EnsureValid();
        foreach (var track in tracks)
        {
            if (track.Length != geometry.Frames)
                throw new ArgumentException($"a track has {track.Length} points, expected {geometry.Frames}", nameof(tracks));
            foreach (var p in track)
            {
                if ((uint)p.X >= (uint)geometry.Width || (uint)p.Y >= (uint)geometry.Height)
                    throw new ArgumentException($"point ({p.X}, {p.Y}) is outside the {geometry.Width}x{geometry.Height} frame", nameof(tracks));
            }
        }

        var frames = new Source[geometry.Frames][];
        frames[0] = [];
        var entries = new List<SparseFlowEntry>();
        var written = new List<SparseFlowEntry>(tracks.Count);
        for (var t = 1; t < geometry.Frames; t++)
        {
            written.Clear();
            foreach (var track in tracks)
            {
                var from = track[t - 1];
                var to = track[t];
                var e = new SparseFlowEntry(t, from.X, from.Y, to.X - from.X, to.Y - from.Y);
                var same = written.FindIndex(w => w.X == e.X && w.Y == e.Y);
                if (same >= 0) written.RemoveAt(same); // assignment: the later trajectory wins
                written.Add(e);
            }
            var sources = new List<Source>(written.Count);
            foreach (var e in written)
            {
                if (e.Dx == 0 && e.Dy == 0) continue;
                entries.Add(e);
                sources.Add(Source.Create(e, geometry));
            }
            frames[t] = sources.ToArray();
        }
        return new FlowVideo(geometry, frames, entries);
    }

    /// <summary>Validates, resamples and builds the flow video of <paramref name="trajectories"/>.</summary>
    /// <exception cref="TrajectoryValidationException">The trajectories are invalid.</exception>
    public static FlowVideo FromTrajectories(IReadOnlyList<Trajectory> trajectories, VideoGeometry geometry, TrajectoryLimits? limits = null) =>
        Create(TrajectoryResampler.ToVideo(trajectories, geometry, limits), geometry);

    /// <summary>Number of floats of <see cref="WriteVaeInput(Span{float})"/>'s output: <c>3·F·H·W</c>.</summary>
    public long VaeInputLength => 3L * Geometry.Frames * Geometry.FramePixels;

    /// <summary>Number of bytes of <see cref="WriteRgb"/>'s output: <c>F·H·W·3</c>.</summary>
    public long RgbLength => 3L * Geometry.Frames * Geometry.FramePixels;

    /// <summary>
    /// Writes what the VAE encoder takes: the RGB flow video as float <c>[1, 3, F, H, W]</c> in [−1, 1]
    /// (<c>rgb/255·2−1</c>, docs/model.md §2.4; in float32 this is bit-identical to diffusers' <c>rgb/127.5−1</c>)
    /// into <paramref name="destination"/>, which may be pooled: every value is overwritten.
    /// </summary>
    public void WriteVaeInput(Span<float> destination) => RenderFrames(destination, VaeInputLength, "floats", RenderVaeFrame);

    /// <summary>
    /// Writes the VAE input into a pooled <see cref="FlowVideoBuffer"/>: the same values as
    /// <see cref="WriteVaeInput(Span{float})"/>, but when the buffer knows its content only the windows that
    /// change are rewritten.
    /// </summary>
    public void WriteVaeInput(FlowVideoBuffer buffer)
    {
        if (buffer.Geometry != Geometry)
            throw new ArgumentException($"the buffer is for {buffer.Geometry} videos, this flow video is {Geometry}", nameof(buffer));
        var previous = buffer.Coloured;
        buffer.Invalidate(); // stays unknown if rendering fails half-way
        var (f, plane) = (Geometry.Frames, (long)Geometry.FramePixels);
        unsafe
        {
            fixed (float* p = buffer.Data)
            {
                var ptr = (nint)p;
                Parallel.For(0, f, t =>
                {
                    var planes = (float*)ptr;
                    if (previous is null)
                    {
                        RenderVaeFrame(t, ptr);
                        return;
                    }
                    foreach (var rect in previous[t])
                    {
                        for (var c = 0; c < 3; c++)
                        {
                            var frame = planes + (c * f + t) * plane;
                            for (var y = rect.Y0; y < rect.Y0 + rect.Height; y++)
                                new Span<float>(frame + (long)y * Geometry.Width + rect.X0, rect.Width).Fill(1f);
                        }
                    }
                    var sink = new VaeSink(planes + (0L * f + t) * plane, planes + (1L * f + t) * plane, planes + (2L * f + t) * plane, Geometry.Width);
                    ColourWindows(_frames[t], ref sink);
                });
            }
        }
        buffer.Coloured = _frames.Select(sources => sources.Select(s => new WindowRect(s.X0, s.Y0, s.Wx.Length, s.Wy.Length)).ToArray()).ToArray();
    }

    /// <summary>Writes the RGB flow video as uint8 <c>[F, H, W, 3]</c> into <paramref name="destination"/>.</summary>
    public void WriteRgb(Span<byte> destination) => RenderFrames(destination, RgbLength, "bytes", RenderRgbFrame);

    /// <summary>Renders every frame into <paramref name="destination"/> in parallel, <paramref name="renderFrame"/>
    /// getting the frame index and the buffer's address.</summary>
    private unsafe void RenderFrames<T>(Span<T> destination, long length, string units, Action<int, nint> renderFrame)
        where T : unmanaged
    {
        if (destination.Length < length)
            throw new ArgumentException($"destination holds {destination.Length} {units}, {length} needed", nameof(destination));
        fixed (T* p = destination)
        {
            var ptr = (nint)p;
            Parallel.For(0, Geometry.Frames, t => renderFrame(t, ptr));
        }
    }

    /// <summary>Allocates and returns the RGB flow video as uint8 <c>[F, H, W, 3]</c>.</summary>
    public byte[] ToRgb()
    {
        var rgb = new byte[RgbLength];
        WriteRgb(rgb);
        return rgb;
    }

    /// <summary>Writes the blurred flow of frame <paramref name="frame"/> as float <c>[H, W, 2]</c> (dx, dy in pixels).</summary>
    public void WriteBlurredFlow(int frame, Span<float> destination)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual((uint)frame, (uint)Geometry.Frames, nameof(frame));
        if (destination.Length < Geometry.FramePixels * 2)
            throw new ArgumentException($"destination holds {destination.Length} floats, {Geometry.FramePixels * 2} needed", nameof(destination));
        var w = Geometry.Width;
        destination[..(Geometry.FramePixels * 2)].Clear();
        var sources = _frames[frame];
        for (var s = 0; s < sources.Length; s++)
        {
            var src = sources[s];
            for (var y = src.Y0; y < src.Y0 + src.Wy.Length; y++)
            {
                for (var x = src.X0; x < src.X0 + src.Wx.Length; x++)
                {
                    if (CoveredEarlier(sources, s, x, y)) continue;
                    var (u, v) = FlowAt(sources, x, y);
                    destination[(y * w + x) * 2] = u;
                    destination[(y * w + x) * 2 + 1] = v;
                }
            }
        }
    }

    private unsafe void RenderVaeFrame(int t, nint basePtr)
    {
        var (f, h, w) = (Geometry.Frames, Geometry.Height, Geometry.Width);
        long plane = (long)h * w;
        var sink = new VaeSink(
            (float*)basePtr + (0L * f + t) * plane,
            (float*)basePtr + (1L * f + t) * plane,
            (float*)basePtr + (2L * f + t) * plane,
            w);
        // Zero flow colours to white, 255 → 1.0 (docs/model.md §2.3).
        StreamingFill.Fill(new Span<float>(sink.R, (int)plane), 1f);
        StreamingFill.Fill(new Span<float>(sink.G, (int)plane), 1f);
        StreamingFill.Fill(new Span<float>(sink.B, (int)plane), 1f);
        ColourWindows(_frames[t], ref sink);
    }

    private unsafe void RenderRgbFrame(int t, nint basePtr)
    {
        var (h, w) = (Geometry.Height, Geometry.Width);
        var frame = (byte*)basePtr + (long)t * h * w * 3;
        StreamingFill.Fill(new Span<byte>(frame, h * w * 3), (byte)255);
        var sink = new RgbSink(frame, w);
        ColourWindows(_frames[t], ref sink);
    }

    /// <summary>
    /// Colours every pixel of the frame's blurred windows. A pixel reached by one source only has the flow
    /// <c>(d·wx)·wy</c>, so pixels whose weights are bit-identical (mirror positions around the source) have the
    /// same colour: it is computed once per distinct weight pair, about a quarter of the pixels, with no change
    /// to any byte. Pixels where windows overlap are computed in full.
    /// </summary>
    private void ColourWindows<TSink>(Source[] sources, ref TSink sink) where TSink : struct, IPixelSink
    {
        if (sources.Length == 0) return;
        var denominator = FlowColorWheel.Denominator(MaxNorm);
        var cache = System.Buffers.ArrayPool<int>.Shared.Rent(Math.Max(1, sources.Max(s => s.Wx.Length) * sources.Max(s => s.Wy.Length)));
        var canon = System.Buffers.ArrayPool<int>.Shared.Rent(sources.Max(s => s.Wx.Length) + sources.Max(s => s.Wy.Length));
        try
        {
            for (var s = 0; s < sources.Length; s++)
            {
                var src = sources[s];
                var (nx, ny) = (src.Wx.Length, src.Wy.Length);
                var overlaps = Overlaps(sources, s);
                var canonX = canon.AsSpan(0, nx);
                var canonY = canon.AsSpan(nx, ny);
                Canonical(src.Wx, canonX);
                Canonical(src.Wy, canonY);
                var colours = cache.AsSpan(0, nx * ny);
                colours.Fill(-1);
                for (var iy = 0; iy < ny; iy++)
                {
                    var y = src.Y0 + iy;
                    for (var ix = 0; ix < nx; ix++)
                    {
                        var x = src.X0 + ix;
                        int rgb;
                        if (overlaps && InOtherWindow(sources, s, x, y))
                        {
                            if (CoveredEarlier(sources, s, x, y)) continue; // already coloured with the full sum
                            var (u, v) = FlowAt(sources, x, y);
                            rgb = Pack(FlowColorWheel.Colorize(u, v, denominator));
                        }
                        else
                        {
                            ref var cached = ref colours[canonY[iy] * nx + canonX[ix]];
                            if (cached < 0)
                            {
                                // Exactly FlowAt's arithmetic for a single source.
                                var (wx, wy) = (src.Wx[ix], src.Wy[iy]);
                                cached = Pack(FlowColorWheel.Colorize((float)(src.Dx * wx * wy), (float)(src.Dy * wx * wy), denominator));
                            }
                            rgb = cached;
                        }
                        sink.Write(y, x, (byte)(rgb >> 16), (byte)(rgb >> 8), (byte)rgb);
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<int>.Shared.Return(cache);
            System.Buffers.ArrayPool<int>.Shared.Return(canon);
        }
    }

    private static int Pack((byte R, byte G, byte B) c) => c.R << 16 | c.G << 8 | c.B;

    // canon[i] = the first index with a bit-identical weight (weights are symmetric around the source).
    private static void Canonical(double[] weights, Span<int> canon)
    {
        for (var i = 0; i < weights.Length; i++)
        {
            canon[i] = i;
            for (var j = 0; j < i; j++)
            {
                if (weights[j] == weights[i]) { canon[i] = j; break; }
            }
        }
    }

    private static bool Overlaps(Source[] sources, int s)
    {
        var a = sources[s];
        for (var k = 0; k < sources.Length; k++)
        {
            if (k == s) continue;
            var b = sources[k];
            if (a.X0 < b.X0 + b.Wx.Length && b.X0 < a.X0 + a.Wx.Length && a.Y0 < b.Y0 + b.Wy.Length && b.Y0 < a.Y0 + a.Wy.Length) return true;
        }
        return false;
    }

    private static bool InOtherWindow(Source[] sources, int s, int x, int y)
    {
        for (var k = 0; k < sources.Length; k++)
        {
            if (k == s) continue;
            var o = sources[k];
            if ((uint)(x - o.X0) < (uint)o.Wx.Length && (uint)(y - o.Y0) < (uint)o.Wy.Length) return true;
        }
        return false;
    }

    private interface IPixelSink
    {
        void Write(int y, int x, byte r, byte g, byte b);
    }

    // Channel planes of [1, 3, F, H, W] floats, one frame.
    private readonly unsafe struct VaeSink(float* r, float* g, float* b, int width) : IPixelSink
    {
        public float* R { get; } = r;
        public float* G { get; } = g;
        public float* B { get; } = b;

        public void Write(int y, int x, byte r, byte g, byte b)
        {
            var i = (long)y * width + x;
            R[i] = ByteToUnit[r];
            G[i] = ByteToUnit[g];
            B[i] = ByteToUnit[b];
        }
    }

    // One [H, W, 3] frame.
    private readonly unsafe struct RgbSink(byte* frame, int width) : IPixelSink
    {
        public void Write(int y, int x, byte r, byte g, byte b)
        {
            var p = frame + ((long)y * width + x) * 3;
            p[0] = r;
            p[1] = g;
            p[2] = b;
        }
    }

    private float ComputeMaxNorm()
    {
        var max = 0f;
        foreach (var sources in _frames)
        {
            for (var s = 0; s < sources.Length; s++)
            {
                var src = sources[s];
                if (sources.Length == 1)
                {
                    // One source: |flow| = |d|·wx·wy peaks where both weights peak (at the source, or a border mirror).
                    var (u, v) = FlowAt(sources, src.X0 + ArgMax(src.Wx), src.Y0 + ArgMax(src.Wy));
                    max = MathF.Max(max, MathF.Sqrt(u * u + v * v));
                    continue;
                }
                for (var y = src.Y0; y < src.Y0 + src.Wy.Length; y++)
                {
                    for (var x = src.X0; x < src.X0 + src.Wx.Length; x++)
                    {
                        var (u, v) = FlowAt(sources, x, y);
                        max = MathF.Max(max, MathF.Sqrt(u * u + v * v));
                    }
                }
            }
        }
        return max;
    }

    private static int ArgMax(double[] w)
    {
        var best = 0;
        for (var i = 1; i < w.Length; i++) if (w[i] > w[best]) best = i;
        return best;
    }

    // The exact separable correlation at one pixel: Σ over sources of (d·wx)·wy, in double, rounded to float32.
    private static (float U, float V) FlowAt(Source[] sources, int x, int y)
    {
        double u = 0, v = 0;
        foreach (var s in sources)
        {
            var ix = x - s.X0;
            var iy = y - s.Y0;
            if ((uint)ix >= (uint)s.Wx.Length || (uint)iy >= (uint)s.Wy.Length) continue;
            var wx = s.Wx[ix];
            var wy = s.Wy[iy];
            u += s.Dx * wx * wy;
            v += s.Dy * wx * wy;
        }
        return ((float)u, (float)v);
    }

    private static bool CoveredEarlier(Source[] sources, int s, int x, int y)
    {
        for (var k = 0; k < s; k++)
        {
            var o = sources[k];
            if ((uint)(x - o.X0) < (uint)o.Wx.Length && (uint)(y - o.Y0) < (uint)o.Wy.Length) return true;
        }
        return false;
    }

    private static readonly float[] ByteToUnit = MakeByteToUnit();

    // float32 rgb/255·2−1 as the SAT code does it (docs/model.md §2.4).
    private static float[] MakeByteToUnit()
    {
        var lut = new float[256];
        for (var i = 0; i < 256; i++) lut[i] = i / 255f * 2f - 1f;
        return lut;
    }

    private sealed record Source(double Dx, double Dy, int X0, int Y0, double[] Wx, double[] Wy)
    {
        public static Source Create(SparseFlowEntry e, VideoGeometry g)
        {
            var (x0, nx) = FlowBlur.Support(e.X, g.Width);
            var (y0, ny) = FlowBlur.Support(e.Y, g.Height);
            var wx = new double[nx];
            var wy = new double[ny];
            FlowBlur.Weights(e.X, g.Width, x0, wx);
            FlowBlur.Weights(e.Y, g.Height, y0, wy);
            return new Source(e.Dx, e.Dy, x0, y0, wx, wy);
        }
    }
}
