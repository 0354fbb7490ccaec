package dlr

// Redis that went back in time. Every put and every count takes the next
// number of the account's count sequence (countLua), so a number not
// above the highest one this instance had seen when it sent the call
// says that Redis lost writes it had acknowledged, although the account's
// epoch marker is still there: it was restarted from an older snapshot or
// append-only file, or failed over to a replica that had not received
// the latest writes (REDIS_WAIT_REPLICAS=0). Receipts stored after that
// point are lost, and receipts acknowledged after it come back and are
// sent again. Which of them were delivered meanwhile cannot be told, so
// they are not counted in dlr_lost_total: the event is counted in
// dlr_redis_went_back_total and logged with this instance's receipts
// stored after the number Redis shows now.

// seenLocked is the highest count number a reply has shown this instance
// for sys (0: none yet). With REDIS_WAIT_REPLICAS, only the numbers its
// puts took: those were replicated with the receipts, whereas a count's
// number or an acknowledgement is not waited for, and a failover that
// loses one of them loses no receipt.
func (q *RedisQueue) seenLocked(sys string) int64 {
	sh := q.shares[sys]
	switch {
	case sh == nil:
		return 0
	case q.o.WaitReplicas > 0:
		return sh.putSeq
	default:
		return sh.lastSeq
	}
}

// checkSeqLocked takes the count number seq that a put or count of sys
// took, sent when seen was the highest number shown: not above it, with
// the account's marker unchanged, Redis went back in time. A marker found
// gone (lost) or changed is the data-loss path's (epochSeenLocked).
func (q *RedisQueue) checkSeqLocked(sys, epoch string, lost bool, seq, seen int64) {
	if lost || seq < 1 || seen < 1 || seq > seen || epoch == "" || epoch != q.epochs[sys] {
		return
	}
	stored := 0
	if sh := q.shares[sys]; sh != nil {
		stored = sh.storedSince(seq)
	}
	// What this instance knew of the account's counts and writes belongs
	// to the lost history: a later loss is counted from new counts.
	delete(q.shares, sys)
	if q.wentBack != nil {
		q.wentBack.Inc()
	}
	q.log.Error("dlr.redis_went_back", "system_id", sys, "count_number", seq, "seen", seen, "stored_after", stored,
		"detail", "Redis lost writes it had acknowledged although the account's marker is there (restarted from an older snapshot or append-only file, or failed over to a replica that lagged): of the receipts this instance stored after that point (stored_after), those neither delivered meanwhile nor still in its outage buffer are lost; receipts acknowledged after it may be sent again")
}
