"""A small document set and thirty questions written for it: the retrieval check's material.

Each question names the phrase that the passage answering it contains; the documents are about one
fictional school network, so they share much of their vocabulary, as a real channel's documents do.
"""

from __future__ import annotations

DOCUMENTS: dict[str, str] = {
    "staff-handbook.docx": """
Working hours. Teaching staff are on site from 8:15 to 16:30 on school days. Staff who arrive after 8:30 sign
the late book at the front desk. Part-time teachers agree their hours with the head of department at the start
of each term, and those hours are written into the timetable that the office publishes on the first Monday.

Sick leave. A teacher who is ill phones the cover line before 7:00 so that the cover manager can arrange a
replacement lesson. Absences longer than three days need a doctor's note, sent to human resources by email.
Unused sick days do not carry over into the next school year.

Annual leave. Support staff have 28 days of annual leave plus public holidays. Requests go through the HR
portal at least two weeks in advance; the line manager approves or refuses within five working days. Leave
cannot be taken during the exam weeks in June except in an emergency.

Professional development. Every teacher has a training budget of 600 euros per school year for courses,
conferences and books. Claims are made with receipts through the finance office before 31 July. Unspent
budget is returned to the central fund and does not roll over.

Dress code. Staff dress smartly: no sportswear except for physical education teachers during their lessons.
Name badges are worn at all times on site, on the green lanyard for staff and the red one for visitors.
""",
    "it-guide.pdf": """
Wi-Fi. The staff network is called ORCHARD-STAFF and uses your school account to sign in. Pupils use
ORCHARD-PUPILS, which filters social media during lessons. Guests ask the office for a voucher code that
works for 24 hours.

Passwords. School account passwords are at least 14 characters long and expire every 180 days. A forgotten
password is reset at the self-service page or by the IT desk in room B12, which is open from 8:00 to 15:00.
Never share a password with pupils, even for a lesson.

Laptops. Each teacher borrows one laptop for the year and signs the loan form. A broken screen is repaired
free of charge once per year; after that the department pays. Laptops go back to the IT desk for the summer
update by 10 July.

Printing. Printers release jobs when you tap your badge. Each teacher has a monthly quota of 1,500 pages; colour
printing counts three pages per side. Large print runs of more than 200 copies go to the reprographics room
with two days' notice.

Backups. Files saved on the school drive are backed up every night and kept for 90 days. Files on the laptop
desktop are not backed up. To restore a deleted file, open a ticket with its name and the date it was lost.
""",
    "safety-policy.pdf": """
Fire drills. A fire drill takes place once a term without notice. When the alarm sounds, classes leave by the
nearest exit and assemble on the sports field, where each teacher takes the register and reports missing
pupils to the fire marshal in the yellow vest.

First aid. Trained first aiders are listed on the board outside the staff room. The main first aid kit is kept
in the medical room next to reception, and a defibrillator hangs by the gym entrance. Every injury, however
small, is written in the accident book the same day.

Visitors. Visitors sign in at reception, show photo identification and wear a red lanyard. They are
accompanied by a member of staff at all times. Contractors working on the buildings also need a permit from
the site manager before starting.

Chemicals. Science technicians store chemicals in the locked prep room. Safety data sheets are kept in the blue
folder by the door. Spills of acid are neutralised with the spill kit and reported to the head of science
immediately.

Lockdown. In a lockdown the signal is three short bells repeated. Teachers lock the classroom door, close the
blinds, keep pupils away from the windows and wait silently for the all-clear message on the radio.
""",
    "trips-procedure.docx": """
Planning a trip. A day trip is proposed to the trips coordinator at least six weeks before the date, with the
itinerary, the cost per pupil and the risk assessment. Residential trips abroad need approval from the
governors at least four months ahead.

Ratios. Trips keep one adult for every ten pupils in secondary years and one for every six in primary years.
Swimming or water activities need one qualified lifeguard in addition to the usual adults.

Consent and payment. Parents give consent and pay through the school app. Families who receive support pay
nothing: the hardship fund covers the full cost, and nobody else learns who used it.

Transport. Coaches are booked only with companies on the approved list held by the finance office. Every pupil
wears a seatbelt. Public transport may be used in the city for groups of fewer than thirty pupils.

After the trip. The trip leader returns unspent money to the finance office within two weeks and writes a
short evaluation, including any incidents, for the trips coordinator.
""",
    "canteen-and-fees.xlsx": """
Lunch prices. A school lunch costs 3.20 euros for pupils and 4.50 euros for staff. Free school meals are
available to families on low incomes after an application to the office. Vegetarian and halal options are
served every day.

Allergies. Parents record allergies on the medical form. The kitchen labels the fourteen major allergens on
the daily menu, and pupils with severe nut allergies get a photo card that the serving staff check.

Topping up. Lunch accounts are topped up online through the school app. When a balance falls below 5 euros
the app sends a reminder to the parent, and a pupil can still take a lunch on credit for up to three days.

Music lessons. Individual instrument lessons cost 15 euros for thirty minutes and are billed each term. A term
of lessons is cancelled with one half term's notice in writing to the music department.

Uniform shop. The uniform shop opens on Wednesdays from 15:00 to 17:00. Second-hand blazers sell for 10 euros,
and the money goes to the parents' association.
""",
    "exams-calendar.pdf": """
Mock exams. Year 11 mock exams take place in the first two weeks of January in the sports hall. Results are
given to pupils in tutor time the week after, together with a target grade for the summer.

Coursework deadlines. Coursework is handed in by 1 April through the online learning platform. Late work is
accepted only with a signed note from the head of year, and marks are reduced by ten percent per day otherwise.

Access arrangements. Pupils who need extra time, a reader or a separate room apply through the special needs
coordinator before 15 February, with evidence from a specialist assessment.

Invigilation. External invigilators supervise the summer exams. Teachers are not in the exam hall except to
answer a question about their paper during the first thirty minutes.

Results day. Summer results are collected from the main hall from 9:00 on the third Thursday of August. Pupils
who cannot come can authorise someone else in writing or ask for an email copy.
""",
    "governors-minutes.docx": """
Governors' meeting of 14 November. The chair opened the meeting at 18:00 in the library. Apologies were
received from two parent governors. The minutes of the September meeting were approved without changes.

Budget. The finance committee reported that energy costs for the buildings rose by a fifth this year. The
governors agreed to delay the new sports hall roof until the spring and to review staff training spending.

Staffing. Two new science teachers start in January. The head teacher thanked the cover staff for their work
during the autumn illness outbreak and asked for the sick leave procedure to be explained again at the next
staff meeting.

Trips and visits. The residential trip to the mountains was approved for next year, subject to the usual risk
assessment. Governors asked that the hardship fund be advertised more clearly to families.

Any other business. The next meeting is in February. The chair reminded governors to complete their safeguarding
training online before the end of term.
""",
    "parents-newsletter.md": """
Welcome back. We hope everyone had a restful break. The new term starts with a week of clubs and sports trials,
and the library has new books for every year group.

School app. Parents can now see homework, the lunch menu and trip letters in the school app. If you cannot log
in, reply to the welcome email and the office will send a new invitation.

Parking. Please do not park on the zig-zag lines outside the gates. The car park is for staff and for
families of pupils with disabilities only.

Charity week. Pupils raised 2,300 euros for the local food bank with a bake sale, a sponsored run and a
non-uniform day. Thank you to every family who baked, ran or donated.

Dates for the diary. The winter concert is on 12 December in the main hall. Parents' evenings for Years 7 and 8
are held in January; booking opens through the app two weeks before.
""",
}

# Each question, and a phrase of the passage that answers it.
QUESTIONS: list[tuple[str, str]] = [
    ("What time do teachers have to be at school?", "on site from 8:15"),
    ("Who do I call when I am sick and cannot teach?", "phones the cover line"),
    ("How many days of annual leave do support staff get?", "28 days of annual leave"),
    ("How large is the training budget for courses and conferences?", "600 euros"),
    ("Can I wear sportswear to work?", "no sportswear"),
    ("What is the name of the staff Wi-Fi network?", "ORCHARD-STAFF"),
    ("How long must a password be, and when does it expire?", "14 characters"),
    ("My laptop screen broke; who pays for the repair?", "broken screen"),
    ("How many pages can I print each month?", "1,500 pages"),
    ("How long are files on the school drive kept in backups?", "kept for 90 days"),
    ("Where do classes assemble during a fire drill?", "assemble on the sports field"),
    ("Where is the defibrillator?", "defibrillator"),
    ("What must visitors do when they arrive?", "show photo identification"),
    ("Where are chemicals stored in the science department?", "locked prep room"),
    ("What is the signal for a lockdown?", "three short bells"),
    ("How far ahead must a day trip be proposed?", "six weeks before"),
    ("How many adults are needed per pupil on a secondary school trip?", "one adult for every ten pupils"),
    ("Do families on low incomes pay for trips?", "hardship fund"),
    ("Which coach companies may we book for a trip?", "approved list"),
    ("What happens to unspent trip money afterwards?", "returns unspent money"),
    ("How much does a school lunch cost for staff?", "4.50 euros for staff"),
    ("How does the kitchen handle nut allergies?", "severe nut allergies"),
    ("How do parents top up a lunch account?", "topped up online"),
    ("What do instrument lessons cost?", "15 euros for thirty minutes"),
    ("When is the uniform shop open?", "Wednesdays from 15:00"),
    ("When are the Year 11 mock exams?", "first two weeks of January"),
    ("What is the coursework deadline?", "1 April"),
    ("How do pupils apply for extra time in exams?", "extra time"),
    ("Are teachers allowed in the exam hall?", "External invigilators"),
    ("When and where can pupils collect their summer results?", "third Thursday of August"),
]
