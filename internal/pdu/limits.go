package pdu

// Maximum sizes of C-octet string fields, NUL included (SMPP v3.4
// section 4). Decode rejects longer values with the field's status.
const (
	maxSystemID     = 16
	maxPassword     = 9
	maxSystemType   = 13
	maxAddressRange = 41
	maxAddr         = 21 // source_addr, destination_addr of most PDUs
	maxAddrLong     = 65 // data_sm and alert_notification addresses
	maxMessageID    = 65
	maxServiceType  = 6
	maxTime         = 17 // schedule_delivery_time, validity_period, final_date
	maxDLName       = 21

	// MaxShortMessage is the largest sm_length SMPP v3.4 allows; longer
	// texts travel in the message_payload TLV.
	MaxShortMessage = 254
	// MaxDests is the largest number_of_dests of submit_multi.
	MaxDests = 254

	// maxPriorityFlag is the highest priority_flag a submit may carry;
	// SMPP v3.4 reserves the values above it.
	maxPriorityFlag = 3
)

// tlvFixedLen is the value length of the optional parameters whose size the
// specification fixes. Decode checks them so callers can index the value
// without bounds checks of their own; other tags are taken as they come.
func tlvFixedLen(t Tag) int {
	switch t {
	case TagDestAddrSubunit, TagSourceAddrSubunit, TagPayloadType,
		TagSARTotalSegments, TagSARSegmentSeqnum, TagSCInterfaceVersion,
		TagMessageState, TagDeliveryFailureReason, TagMoreMessagesToSend:
		return 1
	case TagUserMessageReference, TagSourcePort, TagDestinationPort, TagSARMsgRefNum:
		return 2
	case TagNetworkErrorCode:
		return 3
	}
	return -1
}
