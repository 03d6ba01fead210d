namespace Tora.Inference.Package;

/// <summary>
/// The input and output names of a model package's graphs, defined once: the compiler (Tora.Models) writes the
/// graphs with these names and the pipeline binds its tensors by them, so the two cannot drift apart
/// (docs/model.md §6.1). Each nested class is one graph; its names are grouped as the graph's signature reads:
/// inputs, then outputs.
/// </summary>
public static class GraphNames
{
    /// <summary>
    /// <c>text_encoder</c>, T5 v1.1 run without an attention mask (docs/model.md §4.1): the padded token ids
    /// <c>[B, L] int64</c> in, the embedding <c>[B, L, d_model]</c> out.
    /// </summary>
    public static class TextEncoder
    {
        /// <summary>Input: the padded token ids.</summary>
        public const string InputIds = "input_ids";

        /// <summary>Output: the text embedding.</summary>
        public const string LastHiddenState = "last_hidden_state";
    }

    /// <summary>
    /// <c>trajectory_encoder</c>, Tora's motion branch up to everything that depends only on the trajectory
    /// (docs/model.md §3): the flow latents <c>[N, T, 16, h, w]</c> and the motion strength in, one gamma and one beta
    /// <c>[N, T·h·w, D]</c> per transformer block out.
    /// </summary>
    public static class TrajectoryEncoder
    {
        /// <summary>Inputs: the flow latents in the transformer's layout, and the motion strength (float32 <c>[1]</c>, 1 when not fed; packages built before it have none).</summary>
        public const string VideoFlow = "video_flow", MotionStrength = "motion_strength";

        /// <summary>What every modulation name starts with (<see cref="Gamma"/>, <see cref="Beta"/>).</summary>
        public const string ModulationPrefix = "mgf_";

        /// <summary>Output of block <paramref name="block"/>'s fuser scale, which the transformer takes under the same name.</summary>
        public static string Gamma(int block) => $"{ModulationPrefix}gamma_{block}";

        /// <summary>Output of block <paramref name="block"/>'s fuser shift, which the transformer takes under the same name.</summary>
        public static string Beta(int block) => $"{ModulationPrefix}beta_{block}";
    }

    /// <summary>
    /// <c>transformer</c>, the denoiser predicting v (docs/model.md §3.2, §4.2). It also takes every block's
    /// <see cref="TrajectoryEncoder.Gamma"/> and <see cref="TrajectoryEncoder.Beta"/>.
    /// </summary>
    public static class Transformer
    {
        /// <summary>Inputs: the latents <c>[B, T, C_in, h, w]</c>, the text embedding, the integer timestep per batch row, and the host-computed 3D RoPE tables.</summary>
        public const string HiddenStates = "hidden_states", EncoderHiddenStates = "encoder_hidden_states", Timestep = "timestep",
            RopeCos = "rope_cos", RopeSin = "rope_sin";

        /// <summary>Output: the v-prediction <c>[B, T, C_out, h, w]</c>.</summary>
        public const string NoisePred = "noise_pred";
    }

    /// <summary>
    /// <c>vae_decoder</c> and <c>vae_encoder</c>, each running one chunk of frames with every causal convolution's
    /// time cache as an explicit input and output (docs/model.md §4.3, §6.2).
    /// </summary>
    public static class Vae
    {
        /// <summary>The decoder: a latent chunk <c>[1, C, t, h, w]</c> (already divided by the scaling factor) in, frames <c>[1, 3, f, H, W]</c> in about [−1, 1] out.</summary>
        public const string Latents = "latents", Sample = "sample";

        /// <summary>The encoder: frames <c>[1, 3, f, H, W]</c> in [−1, 1] in, the posterior mean and log-variance (not clamped) out.</summary>
        public const string Frames = "frames", Mean = "mean", LogVar = "logvar";

        /// <summary>What a cache input and its matching cache output start with; the convolution's module name follows.</summary>
        public const string PastPrefix = "past.", PresentPrefix = "present.";
    }
}
