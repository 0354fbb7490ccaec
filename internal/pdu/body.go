package pdu

// Body is the decoded body of one PDU. Each command has its own type; the
// header-only commands have empty struct types.
type Body interface {
	// CommandID is the command this body belongs to.
	CommandID() CommandID
}

// Header is the 16-octet PDU header.
type Header struct {
	Length   uint32 // command_length, set by the encoder
	Command  CommandID
	Status   Status
	Sequence uint32
}

// HeaderLen is the size of a PDU header in octets.
const HeaderLen = 16

// DefaultMaxLength is the default upper bound for command_length.
const DefaultMaxLength = 64 * 1024

// PDU is a header with its decoded body. Body is nil when Decode fails
// (unknown command, malformed body); an error response decodes to the zero
// body of its type.
type PDU struct {
	Header
	Body Body
}

// Address is a TON, an NPI and an address string.
type Address struct {
	TON  uint8
	NPI  uint8
	Addr string // at most 20 octets
}

// Bind is bind_transmitter, bind_receiver or bind_transceiver.
type Bind struct {
	Command          CommandID // CmdBindTransmitter, CmdBindReceiver or CmdBindTransceiver
	SystemID         string    // at most 15 octets
	Password         string    // at most 8 octets
	SystemType       string    // at most 12 octets
	InterfaceVersion uint8
	AddrTON          uint8
	AddrNPI          uint8
	AddressRange     string // at most 40 octets
}

// BindResp is the response to a bind.
type BindResp struct {
	Command  CommandID // the matching *_resp command
	SystemID string
	TLVs     TLVs
}

// Outbind is sent by an SMSC to ask an ESME to bind as a receiver.
type Outbind struct {
	SystemID string
	Password string
}

// Header-only PDUs.
type (
	Unbind          struct{}
	UnbindResp      struct{}
	EnquireLink     struct{}
	EnquireLinkResp struct{}
	GenericNack     struct{}
	CancelSMResp    struct{}
	ReplaceSMResp   struct{}
)

// SM holds the fields shared by submit_sm and deliver_sm.
type SM struct {
	ServiceType          string // at most 5 octets
	Source               Address
	Dest                 Address
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string // empty or 16 octets
	ValidityPeriod       string // empty or 16 octets
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           uint8
	SMDefaultMsgID       uint8
	ShortMessage         string // 0–254 octets, binary; sm_length is derived
	TLVs                 TLVs
}

// SubmitSM is submit_sm.
type SubmitSM struct{ SM }

// DeliverSM is deliver_sm.
type DeliverSM struct{ SM }

// SubmitSMResp is submit_sm_resp.
type SubmitSMResp struct{ MessageID string }

// DeliverSMResp is deliver_sm_resp.
type DeliverSMResp struct{ MessageID string }

// DataSM is data_sm.
type DataSM struct {
	ServiceType        string
	Source             Address
	Dest               Address
	ESMClass           uint8
	RegisteredDelivery uint8
	DataCoding         uint8
	TLVs               TLVs
}

// DataSMResp is data_sm_resp.
type DataSMResp struct {
	MessageID string
	TLVs      TLVs
}

// DestAddress is one destination of submit_multi: an SME address or a
// distribution list name.
type DestAddress struct {
	IsDistList bool   // dest_flag 2
	DistList   string // when IsDistList, at most 20 octets
	Address    Address
}

// SubmitMulti is submit_multi.
type SubmitMulti struct {
	ServiceType          string
	Source               Address
	Dests                []DestAddress // 1–254 entries
	ESMClass             uint8
	ProtocolID           uint8
	PriorityFlag         uint8
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	ReplaceIfPresent     uint8
	DataCoding           uint8
	SMDefaultMsgID       uint8
	ShortMessage         string
	TLVs                 TLVs
}

// UnsuccessSME is one failed destination in submit_multi_resp.
type UnsuccessSME struct {
	Address Address
	Status  Status
}

// SubmitMultiResp is submit_multi_resp.
type SubmitMultiResp struct {
	MessageID string
	Unsuccess []UnsuccessSME
}

// QuerySM is query_sm.
type QuerySM struct {
	MessageID string
	Source    Address
}

// QuerySMResp is query_sm_resp.
type QuerySMResp struct {
	MessageID    string
	FinalDate    string // empty or 16 octets
	MessageState MessageState
	ErrorCode    uint8
}

// CancelSM is cancel_sm.
type CancelSM struct {
	ServiceType string
	MessageID   string
	Source      Address
	Dest        Address
}

// ReplaceSM is replace_sm.
type ReplaceSM struct {
	MessageID            string
	Source               Address
	ScheduleDeliveryTime string
	ValidityPeriod       string
	RegisteredDelivery   uint8
	SMDefaultMsgID       uint8
	ShortMessage         string
}

// AlertNotification is alert_notification.
type AlertNotification struct {
	Source   Address
	ESMEAddr Address
	TLVs     TLVs
}

// MessageState is the message_state value of query_sm_resp and the
// message_state TLV.
type MessageState uint8

// Message states (SMPP v3.4 section 5.2.28).
const (
	StateEnroute       MessageState = 1
	StateDelivered     MessageState = 2
	StateExpired       MessageState = 3
	StateDeleted       MessageState = 4
	StateUndeliverable MessageState = 5
	StateAccepted      MessageState = 6
	StateUnknown       MessageState = 7
	StateRejected      MessageState = 8
)

func (b *Bind) CommandID() CommandID            { return b.Command }
func (b *BindResp) CommandID() CommandID        { return b.Command }
func (*Outbind) CommandID() CommandID           { return CmdOutbind }
func (*Unbind) CommandID() CommandID            { return CmdUnbind }
func (*UnbindResp) CommandID() CommandID        { return CmdUnbindResp }
func (*EnquireLink) CommandID() CommandID       { return CmdEnquireLink }
func (*EnquireLinkResp) CommandID() CommandID   { return CmdEnquireLinkResp }
func (*GenericNack) CommandID() CommandID       { return CmdGenericNack }
func (*SubmitSM) CommandID() CommandID          { return CmdSubmitSM }
func (*SubmitSMResp) CommandID() CommandID      { return CmdSubmitSMResp }
func (*DeliverSM) CommandID() CommandID         { return CmdDeliverSM }
func (*DeliverSMResp) CommandID() CommandID     { return CmdDeliverSMResp }
func (*DataSM) CommandID() CommandID            { return CmdDataSM }
func (*DataSMResp) CommandID() CommandID        { return CmdDataSMResp }
func (*SubmitMulti) CommandID() CommandID       { return CmdSubmitMulti }
func (*SubmitMultiResp) CommandID() CommandID   { return CmdSubmitMultiResp }
func (*QuerySM) CommandID() CommandID           { return CmdQuerySM }
func (*QuerySMResp) CommandID() CommandID       { return CmdQuerySMResp }
func (*CancelSM) CommandID() CommandID          { return CmdCancelSM }
func (*CancelSMResp) CommandID() CommandID      { return CmdCancelSMResp }
func (*ReplaceSM) CommandID() CommandID         { return CmdReplaceSM }
func (*ReplaceSMResp) CommandID() CommandID     { return CmdReplaceSMResp }
func (*AlertNotification) CommandID() CommandID { return CmdAlertNotification }
