using System.Security.Cryptography;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Net.Http.Headers;
using Microsoft.OpenApi;

namespace Imagebin.Features.Discovery;

/// <summary>The document as served: its JSON, an ETag of those bytes, and the model the reference page renders.</summary>
public sealed record OpenApiSnapshot(byte[] Json, EntityTagHeaderValue ETag, OpenApiDocument Document);

/// <summary>
/// Generates the document once, on first use (the endpoints are all mapped by then), and keeps it: the endpoints do
/// not change while the process runs, and generating walks every endpoint and schema.
/// </summary>
public sealed class OpenApiDocumentCache(IServiceProvider services)
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private OpenApiSnapshot? _snapshot;

    public async Task<OpenApiSnapshot> GetAsync(CancellationToken cancellationToken)
    {
        if (_snapshot is { } ready)
        {
            return ready;
        }

        await _gate.WaitAsync(cancellationToken);
        try
        {
            return _snapshot ??= await GenerateAsync(cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<OpenApiSnapshot> GenerateAsync(CancellationToken cancellationToken)
    {
        var provider = services.GetRequiredKeyedService<IOpenApiDocumentProvider>(OpenApiSetup.DocumentName);
        var document = await provider.GetOpenApiDocumentAsync(cancellationToken);
        var json = System.Text.Encoding.UTF8.GetBytes(await document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1, cancellationToken));
        var etag = new EntityTagHeaderValue($"\"{Convert.ToBase64String(SHA256.HashData(json), 0, 16).TrimEnd('=')}\"");
        return new OpenApiSnapshot(json, etag, document);
    }
}
