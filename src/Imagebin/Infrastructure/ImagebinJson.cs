using System.Text.Json.Serialization;
using Imagebin.Features.Accounts;
using Imagebin.Features.Items;
using Imagebin.Features.Moderation;

namespace Imagebin.Infrastructure;

/// <summary>Source-generated JSON for everything the API writes: snake_case, nulls written (the contract has nullable fields).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.Never)]
[JsonSerializable(typeof(ProblemBody))]
[JsonSerializable(typeof(ItemDto))]
[JsonSerializable(typeof(OwnerItemDto))]
[JsonSerializable(typeof(ItemListDto))]
[JsonSerializable(typeof(Imagebin.Features.Media.OEmbedDto))]
[JsonSerializable(typeof(Dictionary<string, string>))]
[JsonSerializable(typeof(ScanEvidence))]
[JsonSerializable(typeof(AccountDto))]
[JsonSerializable(typeof(AdminItemDto))]
[JsonSerializable(typeof(ReviewListDto))]
[JsonSerializable(typeof(ReportListDto))]
[JsonSerializable(typeof(ReportReceiptDto))]
[JsonSerializable(typeof(AuditListDto))]
[JsonSerializable(typeof(HashImportResultDto))]
[JsonSerializable(typeof(ReviewDecisionRequest))]
[JsonSerializable(typeof(ReportRequest))]
[JsonSerializable(typeof(AdminAccountDto))]
[JsonSerializable(typeof(AdminAccountListDto))]
[JsonSerializable(typeof(AccountBanRequest))]
// API keys and protected-resource metadata (issue 6).
[JsonSerializable(typeof(ApiKeyListDto))]
[JsonSerializable(typeof(CreatedApiKeyDto))]
[JsonSerializable(typeof(ProtectedResourceMetadataDto))]

// Agent sign-up by proof of work (Features/Accounts/Pow).
[JsonSerializable(typeof(PowChallengeDto))]
[JsonSerializable(typeof(PowSignupRequest))]
[JsonSerializable(typeof(PowSignupDto))]

// The agent card (Features/Discovery), built as a JSON tree.
[JsonSerializable(typeof(System.Text.Json.Nodes.JsonObject))]
public sealed partial class ImagebinJson : JsonSerializerContext;
