package attest

import "strings"

// GitHubRunURL is the URL of the GitHub Actions run this process is part of, read through getenv
// (os.Getenv outside tests), or "" outside one: the URL an attestation records (Options.URL) by
// default, whichever command signs.
func GitHubRunURL(getenv func(string) string) string {
	server, repo, id := getenv("GITHUB_SERVER_URL"), getenv("GITHUB_REPOSITORY"), getenv("GITHUB_RUN_ID")
	if server == "" || repo == "" || id == "" {
		return ""
	}
	return strings.TrimSuffix(server, "/") + "/" + repo + "/actions/runs/" + id
}
