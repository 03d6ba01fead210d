namespace Tora.Models.Checkpoints;

/// <summary>
/// The state-dict names and shapes of a diffusers <c>AutoencoderKLCogVideoX</c> (<c>vae/</c>) for a config,
/// derived from its modules (docs/model.md §4.3): causal convs hold <c>.conv.weight</c>, the spatial norms
/// <c>norm_layer</c>, <c>conv_y</c>, <c>conv_b</c>, the up/down samplers a 2-D <c>.conv</c>. The VAE graph
/// builders read exactly these; random checkpoints write them.
/// </summary>
public static class CogVideoXVaeLayout
{
    /// <summary>The random-checkpoint VAE for the tiny configuration (as the test fixture: channels 4/8/8/16, 2 groups).</summary>
    public static CogVideoXVaeConfig Tiny(int sampleHeight, int sampleWidth) => new()
    {
        BlockOutChannels = [4, 8, 8, 16], NormNumGroups = 2, ScalingFactor = 0.7, SampleHeight = sampleHeight, SampleWidth = sampleWidth,
    };

    /// <summary>Every tensor of the <c>vae/</c> checkpoint.</summary>
    public static IReadOnlyList<CheckpointTensor> Tensors(CogVideoXVaeConfig c)
    {
        var list = new List<CheckpointTensor>();
        void Conv(string n, long inC, long outC, params long[] kernel)
        {
            list.Add(new($"{n}.weight", [outC, inC, .. kernel], TensorKind.Weight));
            list.Add(new($"{n}.bias", [outC], TensorKind.Bias));
        }
        void Norm(string n, long ch) { list.Add(new($"{n}.weight", [ch], TensorKind.NormScale)); list.Add(new($"{n}.bias", [ch], TensorKind.Bias)); }
        void SpatialNorm(string n, long ch)
        {
            Norm($"{n}.norm_layer", ch);
            Conv($"{n}.conv_y.conv", c.LatentChannels, ch, 1, 1, 1);
            Conv($"{n}.conv_b.conv", c.LatentChannels, ch, 1, 1, 1);
        }
        void Resnet(string n, long inC, long outC, bool spatial)
        {
            if (spatial) SpatialNorm($"{n}.norm1", inC); else Norm($"{n}.norm1", inC);
            Conv($"{n}.conv1.conv", inC, outC, 3, 3, 3);
            if (spatial) SpatialNorm($"{n}.norm2", outC); else Norm($"{n}.norm2", outC);
            Conv($"{n}.conv2.conv", outC, outC, 3, 3, 3);
            if (inC != outC) Conv($"{n}.conv_shortcut", inC, outC, 1, 1, 1);
        }

        var ch = c.BlockOutChannels;
        int levels = ch.Length;
        Conv("encoder.conv_in.conv", c.InChannels, ch[0], 3, 3, 3);
        long prev = ch[0];
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < c.LayersPerBlock; j++) { Resnet($"encoder.down_blocks.{i}.resnets.{j}", prev, ch[i], false); prev = ch[i]; }
            if (i < levels - 1) Conv($"encoder.down_blocks.{i}.downsamplers.0.conv", ch[i], ch[i], 3, 3);
        }
        for (int j = 0; j < 2; j++) Resnet($"encoder.mid_block.resnets.{j}", prev, prev, false);
        Norm("encoder.norm_out", prev);
        Conv("encoder.conv_out.conv", prev, 2 * c.LatentChannels, 3, 3, 3);

        var rev = ch.Reverse().ToArray();
        Conv("decoder.conv_in.conv", c.LatentChannels, rev[0], 3, 3, 3);
        for (int j = 0; j < 2; j++) Resnet($"decoder.mid_block.resnets.{j}", rev[0], rev[0], true);
        prev = rev[0];
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j <= c.LayersPerBlock; j++) { Resnet($"decoder.up_blocks.{i}.resnets.{j}", prev, rev[i], true); prev = rev[i]; }
            if (i < levels - 1) Conv($"decoder.up_blocks.{i}.upsamplers.0.conv", rev[i], rev[i], 3, 3);
        }
        SpatialNorm("decoder.norm_out", prev);
        Conv("decoder.conv_out.conv", prev, c.OutChannels, 3, 3, 3);
        return list;
    }
}
