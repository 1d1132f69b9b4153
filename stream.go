package ramp

// This file declares the JSON documents of the SDK delivery protocol
// (docs/stream.md), the wire contract of GET /sdk/v1/stream and
// GET /sdk/v1/flags between the server, which formats them (package hub),
// and the Go SDK, which decodes them (package sdk). Changing a field or a
// tag here changes the protocol for every SDK, in every language.

// EnvironmentDocument is the environment document of docs/stream.md: the
// answer of GET /sdk/v1/flags and the data of each snapshot event of
// GET /sdk/v1/stream. It holds every flag and segment of one environment at
// one point of the change sequence; each flag's Environments holds only that
// environment. Writers keep Flags and Segments non-nil, so that an empty
// list is sent as [] rather than null.
type EnvironmentDocument struct {
	Environment string `json:"environment"`
	// Seq is the server's change sequence: the ID of the last change
	// applied.
	Seq      int64      `json:"seq"`
	Flags    []*Flag    `json:"flags"`
	Segments []*Segment `json:"segments"`
}

// EnvironmentChange is the data of each change event of GET /sdk/v1/stream
// (docs/stream.md): the flags and segments that one committed change
// upserted or deleted in one environment. Empty members are left out of the
// JSON, and a reader takes an absent member as empty.
type EnvironmentChange struct {
	// Seq is the change sequence after the change is applied.
	Seq             int64      `json:"seq"`
	Flags           []*Flag    `json:"flags,omitempty"`
	DeletedFlags    []string   `json:"deletedFlags,omitempty"`
	Segments        []*Segment `json:"segments,omitempty"`
	DeletedSegments []string   `json:"deletedSegments,omitempty"`
}
