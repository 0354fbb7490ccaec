package pdu

import "time"

// ValidTime reports whether s is an SMPP time (SMPP v3.4 section 7.1.1):
// 16 characters "YYMMDDhhmmsstnnp".
//
// Absolute (p is '+' or '-', nn quarter hours from UTC): month 01-12, day
// 01 to the month's last (leap years of 2000-2099 included), hour 00-23,
// minute and second 00-59, tenths t 0-9, nn 00-48.
// Relative (p is 'R'): every other character a digit; the fields are
// amounts (years, months, days, ...), not a date, so only digits are
// required.
func ValidTime(s string) bool {
	if len(s) != maxTime-1 {
		return false
	}
	for i := range 15 {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	switch s[15] {
	case 'R':
		return true
	case '+', '-':
	default:
		return false
	}
	two := func(i int) int { return int(s[i]-'0')*10 + int(s[i+1]-'0') }
	year, month, day, hour, minute, second, quarters := two(0), two(2), two(4), two(6), two(8), two(10), two(13)
	return month >= 1 && month <= 12 && day >= 1 && day <= daysIn(month, 2000+year) && hour <= 23 &&
		minute <= 59 && second <= 59 && quarters <= 48
}

// daysIn is the number of days of month in year: the day before the
// first of the next month.
func daysIn(month, year int) int {
	return time.Date(year, time.Month(month)+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
