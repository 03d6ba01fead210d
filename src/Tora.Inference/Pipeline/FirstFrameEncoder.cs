using SkiaSharp;
using Tora.Contracts;
using Tora.Inference.Noise;
using Tora.Inference.Vae;

namespace Tora.Inference.Pipeline;

/// <summary>
/// Image-to-video conditioning (docs/model.md §4.4): the first frame decoded, converted to RGB with the alpha
/// channel dropped (PIL <c>convert("RGB")</c>, not composited), resized to the model's size when it differs
/// (<see cref="PillowBicubicResize"/>),
/// scaled to [−1, 1], VAE-encoded as a one-frame clip, posterior-sampled with the job's noise source
/// (<see cref="NoiseConsumer.ImagePosterior"/>) × scaling factor, and padded with all-zero latent frames to
/// <c>[1, T, C, h, w]</c>; the transformer takes it concatenated to the noisy latents on channels.
/// </summary>
public static class FirstFrameEncoder
{
    /// <summary>Decodes an image into RGB <c>[H, W, 3]</c> at <paramref name="width"/> × <paramref name="height"/>.</summary>
    /// <exception cref="GenerationException">The bytes are not a decodable image (code <c>invalid_input</c>).</exception>
    public static byte[] DecodeRgb(byte[] encoded, int width, int height)
    {
        using var data = SKData.CreateCopy(encoded);
        using var codec = SKCodec.Create(data)
            ?? throw new GenerationException(GenerationErrorCodes.InvalidInput, "the first frame cannot be decoded (expected PNG, JPEG, WebP, GIF or BMP)");
        var info = new SKImageInfo(codec.Info.Width, codec.Info.Height, SKColorType.Rgba8888, SKAlphaType.Unpremul);
        using var decoded = new SKBitmap(info);
        var result = codec.GetPixels(info, decoded.GetPixels());
        if (result is not (SKCodecResult.Success or SKCodecResult.IncompleteInput))
            throw new GenerationException(GenerationErrorCodes.InvalidInput, $"the first frame image data is corrupt ({result})");
        // Alpha dropped, not blended: the colour values stay as stored (PIL convert("RGB")).
        var rgba = decoded.GetPixelSpan();

        var source = new byte[decoded.Width * decoded.Height * 3];
        for (int i = 0, n = decoded.Width * decoded.Height; i < n; i++)
        {
            source[i * 3] = rgba[i * 4];
            source[i * 3 + 1] = rgba[i * 4 + 1];
            source[i * 3 + 2] = rgba[i * 4 + 2];
        }
        // Aspect ratio not preserved, Pillow's default bicubic (the original's resize((W, H)), docs/model.md §4.4).
        return decoded.Width == width && decoded.Height == height
            ? source
            : PillowBicubicResize.Resize(source, decoded.Width, decoded.Height, width, height);
    }

    /// <summary>
    /// The image latents <c>[1, T, C, h, w]</c>: frame 0 the scaled posterior sample of the first frame, frames
    /// 1..T−1 zeros.
    /// </summary>
    public static float[] Encode(byte[] encodedImage, VaeEncoder vaeEncoder, double scalingFactor, int latentFrames, INoiseSource noise)
    {
        int width = vaeEncoder.Width, height = vaeEncoder.Height, plane = width * height;
        var rgb = DecodeRgb(encodedImage, width, height);
        var pixels = new float[3 * plane]; // [1, 3, 1, H, W]
        for (int c = 0; c < 3; c++)
            for (int p = 0; p < plane; p++)
                pixels[c * plane + p] = rgb[p * 3 + c] / 255f * 2f - 1f;
        var posterior = vaeEncoder.Encode(pixels, 1, FrameLayout.ChannelsFirst);
        var draw = new float[posterior.Mean.Length];
        noise.Draw([1, posterior.Channels, 1, posterior.Height, posterior.Width], draw, NoiseConsumer.ImagePosterior);
        var first = posterior.Sample(draw, scalingFactor, FrameLayout.FramesFirst); // [1, 1, C, h, w]
        var latents = new float[(long)latentFrames * first.Length];
        first.CopyTo(latents, 0);
        return latents;
    }
}
