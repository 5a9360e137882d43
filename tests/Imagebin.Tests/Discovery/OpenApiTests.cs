using Imagebin.Tests.Support;

namespace Imagebin.Tests.Discovery;

public sealed class OpenApiTests
{
    [Fact]
    public async Task Document_IsWrittenToTheValidatorsPath_WhenAsked()
    {
        await using var app = new ImagebinApp();
        var json = await app.Anonymous().GetStringAsync("/api/v1/openapi.json");
        if (Environment.GetEnvironmentVariable("IMAGEBIN_OPENAPI_OUT") is { Length: > 0 } path)
        {
            await File.WriteAllTextAsync(path, json);
        }
    }
}
