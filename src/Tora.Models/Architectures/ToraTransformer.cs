using Tora.Inference.Package;
using Tora.Models.Checkpoints;
using Tora.Models.Graph;

namespace Tora.Models.Architectures;

/// <summary>
/// The Tora transformer (CogVideoX-5B blocks with a Motion-guidance Fuser per block, diffusers
/// <c>ToraTransformer3DModel</c>; docs/model.md §3.2, §4.2) as one ONNX graph predicting v.
/// </summary>
/// <remarks>
/// <para>Inputs: <c>hidden_states [B, T, C_in, H, W]</c> (C_in 16 for T2V, 32 for I2V: noise and image
/// latents concatenated on channels), <c>encoder_hidden_states [B, 226, D_text]</c>, <c>timestep [B] int64</c>,
/// <c>rope_cos</c>/<c>rope_sin [T·h·w, head_dim]</c> (the 3D RoPE table of the video tokens, computed by
/// the host), and per block <c>mgf_gamma_i</c>/<c>mgf_beta_i [N, T·h·w, D]</c> from the trajectory encoder
/// (N = 1 broadcasts over the CFG batch). Output: <c>noise_pred [B, T, C_out, H, W]</c>.</para>
/// <para>Motion guidance off: feed zeros of shape <c>[1, 1, D]</c> for every gamma and beta. The fuser then
/// computes h + GroupNorm(h)·0 + 0 = h exactly, the same result as the original skipping the fuser, with
/// the same graph and weights.</para>
/// <para>Attention is one <c>com.microsoft.MultiHeadAttention</c> node per block over [text; video] tokens, so
/// no sequence² tensor exists in the graph (17 776² scores per head at real size).</para>
/// </remarks>
public static class ToraTransformer
{
    /// <summary>Debug output: the conditioning embedding.</summary>
    public const string Temb = "temb";

    /// <summary>Debug output name of block i's video tokens.</summary>
    public static string BlockHidden(int i) => $"block_{i}_hidden_states";

    /// <summary>Debug output name of block i's text tokens.</summary>
    public static string BlockEncoderHidden(int i) => $"block_{i}_encoder_hidden_states";

    /// <summary>Builds the graph. The batch is symbolic (<c>batch</c>); everything else is fixed by <paramref name="geometry"/>.</summary>
    /// <param name="ckpt">The transformer checkpoint (everything but the extractor and the fusers' convolutions).</param>
    /// <param name="config">Its config.</param>
    /// <param name="geometry">Latent geometry.</param>
    /// <param name="computeType">Activation/weight type; LayerNorm statistics and the fuser GroupNorm stay float32.</param>
    /// <param name="debugOutputs">Also output <c>temb</c> and every block's outputs (tests).</param>
    public static GraphBuilder Build(Checkpoint ckpt, ToraTransformerConfig config, LatentGeometry geometry, ElementType computeType = ElementType.Float32, bool debugOutputs = false)
    {
        var g = new GraphBuilder("tora_transformer", computeType);
        var m = new Model(g, ckpt, config, geometry);
        int T = geometry.LatentFrames, D = config.InnerDim, L = config.MaxTextSeqLength;

        var latents = g.Input(GraphNames.Transformer.HiddenStates, ElementType.Float32, "batch", T, config.InChannels, geometry.LatentHeight, geometry.LatentWidth);
        var text = g.Input(GraphNames.Transformer.EncoderHiddenStates, ElementType.Float32, "batch", L, config.TextEmbedDim);
        var timestep = g.Input(GraphNames.Transformer.Timestep, ElementType.Int64, "batch");
        var cos = g.Input(GraphNames.Transformer.RopeCos, ElementType.Float32, geometry.VideoTokens, config.AttentionHeadDim);
        var sin = g.Input(GraphNames.Transformer.RopeSin, ElementType.Float32, geometry.VideoTokens, config.AttentionHeadDim);
        var gammas = new Value[config.NumLayers];
        var betas = new Value[config.NumLayers];
        for (int i = 0; i < config.NumLayers; i++)
        {
            gammas[i] = g.Input(GraphNames.TrajectoryEncoder.Gamma(i), computeType, "flow_batch", "flow_tokens", D);
            betas[i] = g.Input(GraphNames.TrajectoryEncoder.Beta(i), computeType, "flow_batch", "flow_tokens", D);
        }

        var temb = m.TimeEmbedding(timestep);
        if (debugOutputs) g.Output(temb, Temb, computeType, "batch", config.TimeEmbedDim);
        // Every AdaLN linear takes SiLU(temb); computed in float32 (a [B, 512] tensor) so that half-precision
        // graphs need no half-precision Sigmoid kernel.
        var condition = computeType == ElementType.Float32 ? g.Silu(temb) : g.Cast(g.Silu(g.Cast(temb, ElementType.Float32)), computeType);
        var (rotCos, rotSin) = m.RotaryTables(m.Compute(cos), m.Compute(sin));
        var (encoder, video) = m.PatchEmbed(m.Compute(text), m.Compute(latents));

        for (int i = 0; i < config.NumLayers; i++)
        {
            (video, encoder) = m.ToraBlock(i, video, encoder, condition, rotCos, rotSin, gammas[i], betas[i]);
            if (debugOutputs)
            {
                g.Output(video, BlockHidden(i), computeType, "batch", geometry.VideoTokens, D);
                g.Output(encoder, BlockEncoderHidden(i), computeType, "batch", L, D);
            }
        }
        var output = m.Head(video, encoder, condition);
        g.Output(computeType == ElementType.Float32 ? output : g.Cast(output, ElementType.Float32), GraphNames.Transformer.NoisePred, ElementType.Float32,
            "batch", T, config.OutChannels, geometry.LatentHeight, geometry.LatentWidth);
        return g;
    }


    /// <summary>The module methods, sharing the builder, checkpoint and dimensions.</summary>
    private sealed class Model(GraphBuilder g, Checkpoint ckpt, ToraTransformerConfig c, LatentGeometry geo)
    {
        private readonly int D = c.InnerDim;
        private readonly float eps = (float)c.NormEps;

        public Value Compute(Value x) => g.ComputeType == ElementType.Float32 ? x : g.Cast(x, g.ComputeType);

        /// <summary>Sinusoid of the integer timestep (cos half first when flip_sin_to_cos), then Linear–SiLU–Linear.</summary>
        public Value TimeEmbedding(Value timestep)
        {
            using var _ = g.Scope("time_embedding");
            int half = D / 2;
            // torch: exp(-ln(10000) * i / (half - shift)) in float32.
            var freqs = new float[half];
            float logMax = (float)Math.Log(10000.0);
            for (int i = 0; i < half; i++) freqs[i] = MathF.Exp(-logMax * i / (half - c.FreqShift));
            var angles = g.Mul(g.Unsqueeze(g.Cast(timestep, ElementType.Float32), 1), g.ConstantFloat32(freqs, 1, half));
            var sin = g.Sin(angles);
            var cos = g.Cos(angles);
            var emb = Compute(c.FlipSinToCos ? g.Concat(-1, cos, sin) : g.Concat(-1, sin, cos));
            emb = g.Linear(ckpt, "time_embedding.linear_1", emb, D, c.TimeEmbedDim);
            emb = g.ComputeType == ElementType.Float32 ? g.Silu(emb) : Compute(g.Silu(g.Cast(emb, ElementType.Float32)));
            return g.Linear(ckpt, "time_embedding.linear_2", emb, c.TimeEmbedDim, c.TimeEmbedDim);
        }

        /// <summary>Full-sequence RoPE tables [S, 1, d]: identity (cos 1, sin 0) on the text positions, the host table on video.</summary>
        public (Value Cos, Value Sin) RotaryTables(Value cos, Value sin)
        {
            using var _ = g.Scope("rotary");
            int L = c.MaxTextSeqLength, d = c.AttentionHeadDim;
            var ones = g.Constant(Enumerable.Repeat(1f, L * d).ToArray(), L, d);
            var zeros = g.Constant(new float[L * d], L, d);
            return (g.Unsqueeze(g.Concat(0, ones, cos), 1), g.Unsqueeze(g.Concat(0, zeros, sin), 1));
        }

        /// <summary><c>CogVideoXPatchEmbed</c>: text projection, and a p×p stride-p conv per latent frame, tokens ordered (t, y, x).</summary>
        public (Value Text, Value Video) PatchEmbed(Value text, Value latents)
        {
            using var _ = g.Scope("patch_embed");
            int T = geo.LatentFrames, p = geo.PatchSize;
            var t = g.Linear(ckpt, "patch_embed.text_proj", text, c.TextEmbedDim, D);
            var x = g.Reshape(latents, -1, c.InChannels, geo.LatentHeight, geo.LatentWidth);
            x = g.Conv2d(ckpt, "patch_embed.proj", x, c.InChannels, D, p, 0, p);
            x = g.Reshape(x, -1, T, D, (long)geo.PatchRows * geo.PatchColumns);
            x = g.Transpose(x, 0, 1, 3, 2);
            return (t, g.Reshape(x, -1, geo.VideoTokens, D));
        }

        /// <summary>
        /// One block (docs/model.md §4.2 block order): AdaLN-Zero, the fuser on the modulated video tokens,
        /// joint attention, gated residual; AdaLN-Zero, joint feed-forward, gated residual.
        /// </summary>
        public (Value Video, Value Text) ToraBlock(int i, Value video, Value text, Value condition, Value cos, Value sin, Value gamma, Value beta)
        {
            string prefix = $"transformer_blocks.{i}";
            using var _ = g.Scope(prefix);
            var (nv, nt, gate, textGate) = LayerNormZero($"{prefix}.norm1", video, text, condition);
            nv = MotionGuidanceFuser($"fuser.{i}", nv, gamma, beta);
            var (av, at) = Attention($"{prefix}.attn1", nt, nv, cos, sin);
            video = g.Add(video, g.Mul(gate, av));
            text = g.Add(text, g.Mul(textGate, at));

            (nv, nt, gate, textGate) = LayerNormZero($"{prefix}.norm2", video, text, condition);
            var ff = FeedForward($"{prefix}.ff", g.Concat(1, nt, nv));
            var parts = g.Split(ff, 1, c.MaxTextSeqLength, geo.VideoTokens);
            return (g.Add(video, g.Mul(gate, parts[1])), g.Add(text, g.Mul(textGate, parts[0])));
        }

        /// <summary><c>CogVideoXLayerNormZero</c>: shared LayerNorm, per-stream shift/scale, and the two gates.</summary>
        private (Value Video, Value Text, Value Gate, Value TextGate) LayerNormZero(string prefix, Value video, Value text, Value condition)
        {
            using var _ = g.Scope(prefix);
            var mod = g.Linear(ckpt, $"{prefix}.linear", condition, c.TimeEmbedDim, 6L * D);
            var chunks = g.Split(g.Reshape(mod, -1, 6, D), 1, 1, 1, 1, 1, 1, 1); // shift, scale, gate, enc_shift, enc_scale, enc_gate: [B, 1, D]
            var one = g.Scalar(1f);
            var w = g.Weight($"{prefix}.norm.weight", ckpt.Tensor($"{prefix}.norm.weight", D));
            var b = g.Weight($"{prefix}.norm.bias", ckpt.Tensor($"{prefix}.norm.bias", D));
            Value Modulate(Value x, Value shift, Value scale) => g.Add(g.Mul(g.LayerNorm(x, w, b, eps), g.Add(one, scale)), shift);
            return (Modulate(video, chunks[0], chunks[1]), Modulate(text, chunks[3], chunks[4]), chunks[2], chunks[5]);
        }

        /// <summary>
        /// The step-dependent half of the Motion-guidance Fuser (docs/model.md §3.2):
        /// h + GroupNorm₃₂(h)·gamma + beta, GroupNorm per latent frame over (D/32 channels × h × w), float32.
        /// </summary>
        private Value MotionGuidanceFuser(string prefix, Value h, Value gamma, Value beta)
        {
            using var _ = g.Scope(prefix);
            const int groups = 32;
            var x = g.ComputeType == ElementType.Float32 ? h : g.Cast(h, ElementType.Float32);
            x = g.Reshape(x, -1, geo.LatentFrames, (long)geo.PatchRows * geo.PatchColumns, groups, D / groups);
            var centered = g.Sub(x, g.ReduceMean(x, 2, 4));
            var variance = g.ReduceMean(g.Mul(centered, centered), 2, 4);
            var normed = g.Div(centered, g.Sqrt(g.Add(variance, g.ConstantFloat32([1e-5f]))));
            normed = g.Reshape(normed, -1, geo.VideoTokens, D);
            var w = g.Weight($"{prefix}.flow_cond_norm.weight", ckpt.Tensor($"{prefix}.flow_cond_norm.weight", D), ElementType.Float32);
            var b = g.Weight($"{prefix}.flow_cond_norm.bias", ckpt.Tensor($"{prefix}.flow_cond_norm.bias", D), ElementType.Float32);
            normed = Compute(g.Add(g.Mul(normed, w), b));
            return g.Add(g.Add(h, g.Mul(normed, gamma)), beta);
        }

        /// <summary>Joint attention over [text; video]: q/k/v, per-head LayerNorm on q and k, RoPE on video positions, fused softmax attention, output projection.</summary>
        private (Value Video, Value Text) Attention(string prefix, Value text, Value video, Value cos, Value sin)
        {
            using var _ = g.Scope(prefix);
            int heads = c.NumAttentionHeads, d = c.AttentionHeadDim;
            var x = g.Concat(1, text, video);
            Value Project(string name, bool normAndRotate)
            {
                var y = g.Linear(ckpt, $"{prefix}.to_{name}", x, D, D);
                if (!normAndRotate) return y;
                y = g.Reshape(y, 0, 0, heads, d);
                y = g.LayerNorm(ckpt, $"{prefix}.norm_{name}", y, d, 1e-6f);
                y = Rotate(y, cos, sin, d);
                return g.Reshape(y, 0, 0, D);
            }
            var q = Project("q", true);
            var k = Project("k", true);
            var v = Project("v", false);
            var a = g.MultiHeadAttention(q, k, v, heads, 1f / MathF.Sqrt(d));
            var o = g.Linear(ckpt, $"{prefix}.to_out.0", a, D, D);
            var parts = g.Split(o, 1, c.MaxTextSeqLength, geo.VideoTokens);
            return (parts[1], parts[0]);
        }

        /// <summary>Interleaved-pair rotation x·cos + rot(x)·sin with rot(x)₂ᵢ = −x₂ᵢ₊₁, rot(x)₂ᵢ₊₁ = x₂ᵢ (diffusers <c>apply_rotary_emb</c>, use_real).</summary>
        private Value Rotate(Value x, Value cos, Value sin, int d)
        {
            var pairs = g.Reshape(x, 0, 0, 0, d / 2, 2);
            var xs = g.Split(pairs, -1, 1, 1);
            // Sign flip as a Mul by a constant rather than Neg: Mul has bfloat16 kernels on every provider.
            var rotated = g.Reshape(g.Mul(g.Concat(-1, xs[1], xs[0]), g.Constant([-1f, 1f], 2)), 0, 0, 0, d);
            return g.Add(g.Mul(x, cos), g.Mul(rotated, sin));
        }

        /// <summary><c>FeedForward</c> with tanh-approximate GELU.</summary>
        private Value FeedForward(string prefix, Value x)
        {
            using var _ = g.Scope(prefix);
            int inner = 4 * D;
            var hdn = g.GeluTanh(g.Linear(ckpt, $"{prefix}.net.0.proj", x, D, inner));
            return g.Linear(ckpt, $"{prefix}.net.2", hdn, inner, D);
        }

        /// <summary>norm_final over [text; video], keep video, AdaLayerNorm (shift first), proj_out, unpatchify to [B, T, C_out, H, W].</summary>
        public Value Head(Value video, Value text, Value condition)
        {
            int L = c.MaxTextSeqLength, p = geo.PatchSize;
            var x = g.LayerNorm(ckpt, "norm_final", g.Concat(1, text, video), D, eps);
            x = g.Slice(x, 1, L, L + geo.VideoTokens);
            using (g.Scope("norm_out"))
            {
                var mod = g.Linear(ckpt, "norm_out.linear", condition, c.TimeEmbedDim, 2L * D);
                var chunks = g.Split(g.Reshape(mod, -1, 2, D), 1, 1, 1); // shift, scale
                x = g.LayerNorm(ckpt, "norm_out.norm", x, D, (float)(c.OutputNormEps ?? c.NormEps));
                x = g.Add(g.Mul(x, g.Add(g.Scalar(1f), chunks[1])), chunks[0]);
            }
            x = g.Linear(ckpt, "proj_out", x, D, (long)p * p * c.OutChannels);
            x = g.Reshape(x, -1, geo.LatentFrames, geo.PatchRows, geo.PatchColumns, c.OutChannels, p, p);
            x = g.Transpose(x, 0, 1, 4, 2, 5, 3, 6);
            return g.Reshape(x, -1, geo.LatentFrames, c.OutChannels, geo.LatentHeight, geo.LatentWidth);
        }
    }
}
