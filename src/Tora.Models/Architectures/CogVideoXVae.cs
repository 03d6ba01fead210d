using Tora.Inference.Package;
using Tora.Inference.Vae;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;

namespace Tora.Models.Architectures;

/// <summary>
/// The CogVideoX 3D VAE (diffusers <c>AutoencoderKLCogVideoX</c>, docs/model.md §4.3) as two ONNX graphs that
/// each run ONE chunk of frames and carry every causal convolution's time cache explicitly, so that the
/// caller loops over chunks as the original does (latent frames 3, 2, 2, …; video frames 9, 8, 8, …) and
/// a 49 × 480 × 720 decode never holds more than one chunk's activations (docs/model.md §6.2).
/// </summary>
/// <remarks>
/// <para><b>One graph for every chunk and every tile.</b> The time axis and the spatial axes are dynamic: the
/// spatial sizes are named <see cref="VaeSpatialDim"/> symbols (<c>latent_height*4</c> is four times the input's
/// <c>latent_height</c>), no node depends on them, and the same graph decodes the whole frame or any tile of a
/// tiled decode (docs/vae-tiling.md). The
/// original's parity rules (odd chunks keep their first frame apart in the time up/down-samplers and in the
/// decoder's <c>zq</c> interpolation) are written parity-free: the time-doubling upsampler repeats every frame
/// twice and drops the first (T mod 2) frames; the time-halving downsampler prepends the first frame (T mod 2)
/// times (the mean of a frame with itself is that frame, bit for bit) and averages pairs; <c>zq</c> is doubled
/// in time the same way as the frames it conditions. Each equals the original's odd and even branches, so the
/// same graph runs the first 3-frame chunk and the later 2-frame chunks, and encodes 9-, 8- and 1-frame batches.</para>
/// <para><b>No shape arithmetic at run time.</b> The frame counts those rules need are int64 graph inputs the
/// host computes from the chunk's length (<see cref="VaeFrameInputs"/>), never Shape/Slice/Sub/Mod nodes: ONNX Runtime places such int64
/// arithmetic on the CPU, so a graph with it cannot load on CUDA with the CPU fallback disabled
/// (docs/gpu.md).</para>
/// <para><b>Cache.</b> Every kernel-3 causal convolution <c>m</c> has an input <c>past.m</c> of shape
/// [1, C_in, cache_frames, h, w] and an output <c>present.m</c> of shape [1, C_in, 2, h, w]: the two frames
/// before the chunk and, after it, the last two frames of (past ‖ chunk) — what diffusers keeps in
/// <c>conv_cache</c>. A clip's first chunk passes EMPTY pasts (cache_frames = 0): the convolution then pads
/// with the chunk's first frame repeated 2 − cache_frames times (<see cref="VaeFrameInputs.CacheFill"/>), the original's
/// "no cache" case, so no zero-filled caches are needed. The kernel-1 convolutions of the spatial norms need no cache.</para>
/// <para><b>Statistics.</b> GroupNorm statistics are computed over the chunk only, as the original's chunked
/// decode and encode do (not over the whole clip).</para>
/// </remarks>
public static class CogVideoXVae
{
    /// <summary>Frames in each cache: kernel size 3 minus 1.</summary>
    public const int CacheFrames = 2;

    /// <summary>Symbolic time dimension of the <c>past.*</c> inputs: 0 on a clip's first chunk, <see cref="CacheFrames"/> after.</summary>
    public const string PastFramesDim = "past_frames";

    /// <summary>Builds the decoder chunk graph (any latent height and width).</summary>
    /// <param name="ckpt">The <c>vae</c> weights (uses the <c>decoder.*</c> tensors).</param>
    /// <param name="config">The <c>vae/config.json</c>.</param>
    /// <param name="computeType">Weights, activations and caches; graph inputs and outputs stay float32.</param>
    public static GraphBuilder BuildDecoderChunk(Checkpoint ckpt, CogVideoXVaeConfig config, ElementType computeType = ElementType.Float32)
    {
        var g = new GraphBuilder("vae_decoder", computeType);
        int cl = config.LatentChannels, levels = config.BlockOutChannels.Length;
        var channels = config.BlockOutChannels.Reverse().ToArray();
        var h = new VaeSpatialDim(VaeSpatialDim.LatentHeight, 1);
        var w = new VaeSpatialDim(VaeSpatialDim.LatentWidth, 1);
        var latents = g.Input(GraphNames.Vae.Latents, ElementType.Float32, 1, cl, "latent_frames", h.Symbol, w.Symbol);
        var v = new VaeGraph(g, ckpt, config);
        var z = v.ToCompute(latents);

        var x = v.CausalConv("decoder.conv_in", z, cl, channels[0], h, w);
        var zq = new ZqCache(g, z, v.OddFrames);
        for (int i = 0; i < 2; i++)
            x = v.SpatialResnet($"decoder.mid_block.resnets.{i}", x, channels[0], channels[0], zq, 1, 1, h, w);

        int cin = channels[0], timeScale = 1, spaceScale = 1;
        for (int i = 0; i < levels; i++)
        {
            int cout = channels[i];
            for (int j = 0; j <= config.LayersPerBlock; j++)
            {
                x = v.SpatialResnet($"decoder.up_blocks.{i}.resnets.{j}", x, cin, cout, zq, timeScale, spaceScale, h, w);
                cin = cout;
            }
            if (i == levels - 1) break;
            bool compressTime = i < config.TemporalCompressLevels;
            x = v.Upsample($"decoder.up_blocks.{i}.upsamplers.0", x, cout, compressTime, v.OddFrames);
            if (compressTime) timeScale *= 2;
            spaceScale *= 2;
            h = h.Times(2);
            w = w.Times(2);
        }
        x = v.SpatialNorm("decoder.norm_out", x, cin, zq, timeScale, spaceScale);
        x = g.Silu(x);
        x = v.CausalConv("decoder.conv_out", x, cin, config.OutChannels, h, w);
        g.Output(v.ToFloat32(x), GraphNames.Vae.Sample, ElementType.Float32, 1, config.OutChannels, "frames", h.Symbol, w.Symbol);
        v.DeclareCacheOutputs();
        return g;
    }

    /// <summary>Builds the encoder chunk graph (any video height and width that are multiples of the spatial compression, 8).</summary>
    /// <param name="ckpt">The <c>vae</c> weights (uses the <c>encoder.*</c> tensors).</param>
    /// <param name="config">The <c>vae/config.json</c>.</param>
    /// <param name="computeType">Weights, activations and caches; graph inputs and outputs stay float32.</param>
    public static GraphBuilder BuildEncoder(Checkpoint ckpt, CogVideoXVaeConfig config, ElementType computeType = ElementType.Float32)
    {
        var g = new GraphBuilder("vae_encoder", computeType);
        int levels = config.BlockOutChannels.Length, cl = config.LatentChannels;
        var channels = config.BlockOutChannels;
        float eps = (float)config.NormEps;
        var h = new VaeSpatialDim(VaeSpatialDim.Height, 1);
        var w = new VaeSpatialDim(VaeSpatialDim.Width, 1);
        var frames = g.Input(GraphNames.Vae.Frames, ElementType.Float32, 1, config.InChannels, "frames", h.Symbol, w.Symbol);
        var v = new VaeGraph(g, ckpt, config);

        var x = v.CausalConv("encoder.conv_in", v.ToCompute(frames), config.InChannels, channels[0], h, w);
        int cin = channels[0];
        for (int i = 0; i < levels; i++)
        {
            int cout = channels[i];
            for (int j = 0; j < config.LayersPerBlock; j++)
            {
                x = v.Resnet($"encoder.down_blocks.{i}.resnets.{j}", x, cin, cout, eps, h, w);
                cin = cout;
            }
            if (i == levels - 1) break;
            x = v.Downsample($"encoder.down_blocks.{i}.downsamplers.0", x, cout, i < config.TemporalCompressLevels ? g.Input(VaeFrameInputs.DownsamplePadPrefix + i, ElementType.Int64, 5) : null);
            h = h.Over(2);
            w = w.Over(2);
        }
        for (int i = 0; i < 2; i++)
            x = v.Resnet($"encoder.mid_block.resnets.{i}", x, cin, cin, eps, h, w);
        x = v.GroupNorm("encoder.norm_out", x, cin, 1e-6f);
        x = g.Silu(x);
        x = v.CausalConv("encoder.conv_out", x, cin, 2 * cl, h, w);
        var moments = g.Split(x, 1, cl, cl);
        g.Output(v.ToFloat32(moments[0]), GraphNames.Vae.Mean, ElementType.Float32, 1, cl, "latent_frames", h.Symbol, w.Symbol);
        g.Output(v.ToFloat32(moments[1]), GraphNames.Vae.LogVar, ElementType.Float32, 1, cl, "latent_frames", h.Symbol, w.Symbol);
        v.DeclareCacheOutputs();
        return g;
    }

    /// <summary>The decoder's conditioning latents resized to each (time, space) scale once and shared by the norms there.</summary>
    private sealed class ZqCache(GraphBuilder g, Value latents, Value oddFrames)
    {
        private readonly Dictionary<(int, int), Value> _resized = [];

        /// <summary>
        /// <c>zq</c> at time scale <paramref name="r"/> (a power of two) and space scale <paramref name="s"/>:
        /// doubled in time as the frames are (every frame twice, the first T mod 2 dropped), which gives the
        /// original's odd-chunk rule (first latent frame once, the others r times) and its even rule alike.
        /// </summary>
        public Value For(int r, int s)
        {
            if (r == 1 && s == 1) return latents;
            if (_resized.TryGetValue((r, s), out var z)) return z;
            if ((r & (r - 1)) != 0) throw new ArgumentException($"time scale {r} is not a power of two");
            using var _ = g.Scope($"zq_t{r}_s{s}");
            // Time first, at latent resolution, so the full-resolution tensor holds only the kept frames.
            z = s > 1 ? For(r, 1) : For(r / 2, 1);
            if (s > 1) z = g.RepeatPixels(z, s);
            else z = g.Slice(g.RepeatFrames(z, 2), 2, oddFrames, g.Int64s(long.MaxValue));
            _resized[(r, s)] = z;
            return z;
        }
    }

    /// <summary>Module-level builders sharing the graph, checkpoint, config and the host-computed frame inputs.</summary>
    private sealed class VaeGraph
    {
        private readonly GraphBuilder _g;
        private readonly Checkpoint _ckpt;
        private readonly CogVideoXVaeConfig _config;
        private readonly List<(Value Value, string Name, Dim[] Shape)> _presents = [];
        private readonly Value _cacheFill;
        private Value? _oddFrames;

        public VaeGraph(GraphBuilder g, Checkpoint ckpt, CogVideoXVaeConfig config)
        {
            _g = g;
            _ckpt = ckpt;
            _config = config;
            _cacheFill = g.Input(VaeFrameInputs.CacheFill, ElementType.Int64, 5);
        }

        /// <summary>The decoder's <see cref="VaeFrameInputs.OddFrames"/>, declared on first use.</summary>
        public Value OddFrames => _oddFrames ??= _g.Input(VaeFrameInputs.OddFrames, ElementType.Int64, 1);

        /// <summary>Declares the <c>present.*</c> outputs after the data outputs, in the order of the <c>past.*</c> inputs.</summary>
        public void DeclareCacheOutputs()
        {
            foreach (var (value, name, shape) in _presents) _g.Output(value, name, _g.ComputeType, shape);
        }

        public Value ToCompute(Value x) => _g.ComputeType == ElementType.Float32 ? x : _g.Cast(x, _g.ComputeType);

        public Value ToFloat32(Value x) => _g.ComputeType == ElementType.Float32 ? x : _g.Cast(x, ElementType.Float32);

        /// <summary>
        /// <c>CogVideoXCausalConv3d</c>, kernel 3: time padding from the cache, completed to two frames with the
        /// chunk's first frame (all of it on the first chunk, whose past is empty), spatial zero padding 1; the
        /// new cache is the last two padded frames.
        /// </summary>
        public Value CausalConv(string prefix, Value x, int cin, int cout, VaeSpatialDim h, VaeSpatialDim w)
        {
            using var _ = _g.Scope(prefix);
            var past = _g.Input(GraphNames.Vae.PastPrefix + prefix, _g.ComputeType, 1, cin, PastFramesDim, h.Symbol, w.Symbol);
            var fill = _g.Node("Tile", _g.Slice(x, 2, 0, 1), _cacheFill);
            var padded = _g.Concat(2, past, fill, x);
            var present = _g.Slice(padded, 2, -CacheFrames, long.MaxValue);
            _presents.Add((present, GraphNames.Vae.PresentPrefix + prefix, [1, cin, CacheFrames, h.Symbol, w.Symbol]));
            var weight = _g.Weight(prefix + ".conv.weight", _ckpt.Tensor(prefix + ".conv.weight", cout, cin, 3, 3, 3));
            var bias = _g.Weight(prefix + ".conv.bias", _ckpt.Tensor(prefix + ".conv.bias", cout));
            return _g.Conv(padded, weight, bias, [3, 3, 3], [0, 1, 1, 0, 1, 1]);
        }

        /// <summary>A 1×1×1 convolution (<c>conv_shortcut</c>, the spatial norms' kernel-1 causal convs, which need no cache).</summary>
        public Value PointwiseConv(string prefix, Value x, int cin, int cout)
        {
            using var _ = _g.Scope(prefix);
            var weight = _g.Weight(prefix + ".weight", _ckpt.Tensor(prefix + ".weight", cout, cin, 1, 1, 1));
            var bias = _g.Weight(prefix + ".bias", _ckpt.Tensor(prefix + ".bias", cout));
            return _g.Conv(x, weight, bias, [1, 1, 1], [0, 0, 0, 0, 0, 0]);
        }

        /// <summary><c>nn.GroupNorm</c> with the module's affine weight and bias.</summary>
        public Value GroupNorm(string prefix, Value x, int channels, float eps)
        {
            using var _ = _g.Scope(prefix);
            var gamma = _g.Weight(prefix + ".weight", new ReshapedWeight(_ckpt.Tensor(prefix + ".weight", channels), channels, 1, 1, 1));
            var beta = _g.Weight(prefix + ".bias", new ReshapedWeight(_ckpt.Tensor(prefix + ".bias", channels), channels, 1, 1, 1));
            return _g.GroupNormAccurate(x, channels, _config.NormNumGroups, gamma, beta, eps);
        }

        /// <summary><c>CogVideoXSpatialNorm3D</c>: GroupNorm(f) · conv_y(zq) + conv_b(zq), zq resized to f (eps 1e-6 fixed in the original).</summary>
        public Value SpatialNorm(string prefix, Value f, int channels, ZqCache zq, int timeScale, int spaceScale)
        {
            using var _ = _g.Scope(prefix);
            var z = zq.For(timeScale, spaceScale);
            int cz = _config.LatentChannels;
            var y = PointwiseConv(prefix + ".conv_y.conv", z, cz, channels);
            var b = PointwiseConv(prefix + ".conv_b.conv", z, cz, channels);
            var normed = GroupNorm(prefix + ".norm_layer", f, channels, 1e-6f);
            return _g.Add(_g.Mul(normed, y), b);
        }

        /// <summary>Decoder <c>CogVideoXResnetBlock3D</c> with spatial norms (no time embedding, no dropout at inference).</summary>
        public Value SpatialResnet(string prefix, Value x, int cin, int cout, ZqCache zq, int timeScale, int spaceScale, VaeSpatialDim h, VaeSpatialDim w)
        {
            using var _ = _g.Scope(prefix);
            var y = _g.Silu(SpatialNorm(prefix + ".norm1", x, cin, zq, timeScale, spaceScale));
            y = CausalConv(prefix + ".conv1", y, cin, cout, h, w);
            y = _g.Silu(SpatialNorm(prefix + ".norm2", y, cout, zq, timeScale, spaceScale));
            y = CausalConv(prefix + ".conv2", y, cout, cout, h, w);
            return _g.Add(y, cin == cout ? x : PointwiseConv(prefix + ".conv_shortcut", x, cin, cout));
        }

        /// <summary>Encoder <c>CogVideoXResnetBlock3D</c> with GroupNorms.</summary>
        public Value Resnet(string prefix, Value x, int cin, int cout, float eps, VaeSpatialDim h, VaeSpatialDim w)
        {
            using var _ = _g.Scope(prefix);
            var y = _g.Silu(GroupNorm(prefix + ".norm1", x, cin, eps));
            y = CausalConv(prefix + ".conv1", y, cin, cout, h, w);
            y = _g.Silu(GroupNorm(prefix + ".norm2", y, cout, eps));
            y = CausalConv(prefix + ".conv2", y, cout, cout, h, w);
            return _g.Add(y, cin == cout ? x : PointwiseConv(prefix + ".conv_shortcut", x, cin, cout));
        }

        /// <summary>
        /// <c>CogVideoXUpsample3D</c>: nearest ×2 in space (and in time when <paramref name="compressTime"/>,
        /// dropping the first of the doubled frames in odd chunks), then a per-frame 3×3 conv, padding 1.
        /// </summary>
        public Value Upsample(string prefix, Value x, int channels, bool compressTime, Value oddFrames)
        {
            using var _ = _g.Scope(prefix);
            var y = x;
            if (compressTime) y = _g.Slice(_g.RepeatFrames(y, 2), 2, oddFrames, _g.Int64s(long.MaxValue));
            y = _g.RepeatPixels(y, 2);
            return FrameConv(prefix + ".conv", y, channels, [0, 1, 1, 0, 1, 1], 1);
        }

        /// <summary>
        /// <c>CogVideoXDownsample3D</c>: when <paramref name="padRepeats"/> (a <see cref="VaeFrameInputs.DownsamplePadPrefix"/>
        /// input) is given, average pairs of frames (odd chunks keep their first frame alone); then zero-pad right
        /// and bottom by 1 and a per-frame 3×3 conv, stride 2.
        /// </summary>
        public Value Downsample(string prefix, Value x, int channels, Value? padRepeats)
        {
            using var _ = _g.Scope(prefix);
            if (padRepeats is not null)
            {
                var head = _g.Node("Tile", _g.Slice(x, 2, 0, 1), padRepeats);
                var even = _g.Concat(2, head, x);
                x = _g.AverageFramePairs(even);
            }
            return FrameConv(prefix + ".conv", x, channels, [0, 0, 0, 0, 1, 1], 2);
        }

        /// <summary>An <c>nn.Conv2d</c> 3×3 applied to every frame, as a [1, 3, 3] Conv3d.</summary>
        private Value FrameConv(string prefix, Value x, int channels, long[] pads, long stride)
        {
            var weight = _g.Weight(prefix + ".weight", new ReshapedWeight(_ckpt.Tensor(prefix + ".weight", channels, channels, 3, 3), channels, channels, 1, 3, 3));
            var bias = _g.Weight(prefix + ".bias", _ckpt.Tensor(prefix + ".bias", channels));
            return _g.Conv(x, weight, bias, [1, 3, 3], pads, [1, stride, stride]);
        }
    }
}
